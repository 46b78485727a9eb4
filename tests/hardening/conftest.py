"""Hardening suite: a session count of the generated inputs audited, printed at the end of the run."""
from __future__ import annotations

from .harness import COUNTER


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if COUNTER.total:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(COUNTER.by_status.items()))
        terminalreporter.write_line(
            f"pgolf-audit hardening: {COUNTER.total} generated inputs tried ({parts}; {COUNTER.cli} through the CLI)")
