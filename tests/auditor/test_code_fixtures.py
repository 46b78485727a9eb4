"""Every code fixture gives exactly the techniques, verdict and evidence lines its header declares."""
from __future__ import annotations

import base64
import lzma
from pathlib import Path

import pytest

from auditor.api import audit_path
from reports.model import AuditResult

from .fixtures import Fixture, all_fixtures

FIXTURES = all_fixtures()
KNOWN_GAPS: dict[str, str] = {}  # fixture id (with its [variant]) -> "plain" | "wrapped" | "both"
for _line in (Path(__file__).parent / "known_gaps.txt").read_text(encoding="utf-8").splitlines():
    if _line.strip() and not _line.startswith("#"):
        _id, _which = _line.split("#")[0].split()
        KNOWN_GAPS[_id] = _which


def _params(fixtures: list[Fixture], mode: str) -> list:
    """Fixtures as parameters of the "plain" or "wrapped" test; known gaps are strict xfails (they fail loudly
    once the engine learns them)."""
    out = []
    for fx in fixtures:
        marks = [pytest.mark.xfail(strict=True, reason="known gap: see tests/auditor/known_gaps.txt")] \
            if KNOWN_GAPS.get(fx.id) in (mode, "both") else []
        out.append(pytest.param(fx, id=fx.id, marks=marks))
    return out


def check(fx: Fixture, result: AuditResult, marks: bool = True) -> None:
    """Assert that `result` reports what the fixture's header (and, with `marks`, its evidence marks) expects."""
    got = {t.id: (t.active, t.legal) for t in result.techniques}
    for tech, (active, legal) in fx.techniques.items():
        assert tech in got, f"{fx.id}: expected technique {tech}, got {got}"
        assert got[tech][0] == active, f"{fx.id}: {tech} active={got[tech][0]}, expected {active}; findings: {_msgs(result)}"
        if active or legal is not None:
            assert got[tech][1] == legal, f"{fx.id}: {tech} legal={got[tech][1]}, expected {legal}; findings: {_msgs(result)}"
    for tech in fx.absent:
        assert not got.get(tech, (False, None))[0], f"{fx.id}: {tech} must not be active; findings: {_msgs(result)}"
    assert result.verdict == fx.verdict, f"{fx.id}: verdict {result.verdict}, expected {fx.verdict}; findings: {_msgs(result)}"
    if marks:
        for tech, lines in fx.marks.items():
            seen = {(e.file.rsplit('/', 1)[-1], e.line) for f in result.findings if f.technique == tech for e in f.evidence}
            missing = lines - seen
            assert not missing, f"{fx.id}: evidence for {tech} lacks {sorted(missing)}; has {sorted(seen)}"


def _msgs(result: AuditResult) -> list[str]:
    return [f"{f.severity}:{f.check}:{f.message}" for f in result.findings]


@pytest.mark.parametrize("fx", _params(FIXTURES, "plain"))
def test_fixture(fx: Fixture) -> None:
    check(fx, audit_path(fx.path, env=fx.env, verify=False))


SINGLE = [f for f in FIXTURES if f.path.is_file() and "compressed_code" not in f.techniques]


@pytest.mark.parametrize("fx", _params(SINGLE, "wrapped"))
def test_fixture_inside_lzma_b85_exec_wrapper(fx: Fixture, tmp_path) -> None:
    """The same verdict and techniques when the script ships as a compressed exec stub."""
    payload = base64.b85encode(lzma.compress(fx.path.read_bytes())).decode()
    wrapped = tmp_path / fx.path.name
    wrapped.write_text(f"import lzma as L, base64 as B\nexec(L.decompress(B.b85decode({payload!r})))\n")
    result = audit_path(wrapped, env=fx.env, verify=False)
    got = {t.id for t in result.techniques if t.active}
    assert "compressed_code" in got
    check(fx, result, marks=False)


def test_known_gaps_name_fixtures() -> None:
    """Every line of known_gaps.txt names an existing fixture id (rename the line with the fixture or variant)."""
    assert not KNOWN_GAPS.keys() - {fx.id for fx in FIXTURES}
