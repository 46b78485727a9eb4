"""Hardening tests: hostile input and evasion fixtures."""
