"""Test suite for pgolf-audit."""
