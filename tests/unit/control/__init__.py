"""Tests for trailkeeper.control and trailkeeper.organizations."""
