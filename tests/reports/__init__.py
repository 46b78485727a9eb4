"""Tests for the report renderers."""
