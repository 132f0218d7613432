"""Tests of trailkeeper.record and the rules files."""
