"""Tests for trailkeeper.journal."""
