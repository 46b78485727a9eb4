"""Tests for the static auditor and its checks."""
