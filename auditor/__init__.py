"""Static auditor and verifier for Parameter Golf submissions."""
