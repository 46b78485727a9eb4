"""End-to-end tests: pack, verify and rerun a trained submission."""
