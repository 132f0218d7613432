"""Tests for trailkeeper.history."""
