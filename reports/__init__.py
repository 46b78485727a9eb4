"""Renderers for audit results: terminal, JSON, SARIF, annotations, PR comment."""
