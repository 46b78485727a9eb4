"""Tests for the reference trainer and quantizer."""
