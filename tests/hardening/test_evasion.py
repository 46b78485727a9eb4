"""The evasion fixtures (tests/fixtures/code/evasion/) never pass as CLEAN: each ends in VIOLATION or REVIEW.

tests/auditor/test_code_fixtures.py holds them to their exact headers (what a complete audit reports);
this suite holds the floor. A case below the floor is a strict xfail naming what the engine lacks.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from auditor.api import audit_path
from auditor.checks.dynamic_code import DynamicCode
from auditor.source import load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code"
EVASION = sorted((FIXTURES / "evasion").glob("*.py"))
BELOW_FLOOR = {
    "closure_laundering.py": "auditor/facts/flow.py: a nested function returned by a factory and called through the "
                             "variable it was bound to (`window, n = window_source(h); window(i)`) is summarized as a "
                             "model call, so the validation tokens it closes over do not reach the fine-tune's loss",
}


def _params() -> list:
    return [pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True, reason=BELOW_FLOOR[p.name])]
                         if p.name in BELOW_FLOOR else []) for p in EVASION]


def test_there_are_evasion_fixtures() -> None:
    assert len(EVASION) >= 15


@pytest.mark.parametrize("path", _params())
def test_evasion_is_never_clean(path: Path) -> None:
    result = audit_path(path, verify=False)
    assert result.verdict in ("VIOLATION", "REVIEW"), [f"{f.severity}:{f.check}:{f.message}" for f in result.findings]


def test_dynamic_code_check_is_quiet_on_every_other_fixture() -> None:
    """AUDIT-002 reads syntax only; on the technique fixtures (real-shaped code) it must find nothing."""
    noisy = []
    for entry in sorted(FIXTURES.glob("*/*")):
        if entry.parent.name == "evasion" or not (entry.suffix == ".py" or (entry / "train_gpt.py").exists()):
            continue
        sub = load(entry)
        found = DynamicCode().detect(SimpleNamespace(submission=sub))
        noisy += [f"{entry.relative_to(FIXTURES)}: {d.message}" for d in found]
    assert not noisy, noisy
