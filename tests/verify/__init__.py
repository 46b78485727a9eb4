"""Tests for the verifier."""
