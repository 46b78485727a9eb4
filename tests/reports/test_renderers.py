"""Every renderer, snapshot-tested on the one shared result; the registry; determinism.

Refresh the snapshots after an intended change with `PGOLF_UPDATE_SNAPSHOTS=1 pytest tests/reports`
and review the diff.
"""
from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reports import render as registry
from reports.model import AuditResult, Evidence, Finding
from tests.reports.conftest import OPTIONS, REPO_URL, RULES, SHA, shared_result

SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = {  # snapshot file -> (format, options)
    "shared.terminal.txt": ("terminal", {"width": 100, "color": False}),
    "shared.json": ("json", {}),
    "shared.md": ("markdown", {"repo_url": REPO_URL, "sha": SHA}),
    "shared.local.md": ("markdown", {}),
    "shared.sarif.json": ("sarif", {"repo_url": REPO_URL, "sha": SHA}),
    "shared.annotations.txt": ("annotations", {}),
}


def rendered(result: AuditResult, fmt: str, **options: object) -> str:
    out = io.StringIO()
    registry.render(result, fmt, out, rules=RULES, **OPTIONS, **options)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name: str):
    fmt, options = CASES[name]
    text = rendered(shared_result(), fmt, **options)
    path = SNAPSHOTS / name
    if os.environ.get("PGOLF_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring to refresh it"


@pytest.mark.parametrize("fmt", registry.FORMATS)
def test_deterministic_and_read_only(fmt: str):
    result = shared_result()
    before = copy.deepcopy(result)
    assert rendered(result, fmt) == rendered(result, fmt)
    assert result == before


def test_registry_covers_every_format():
    assert tuple(registry.RENDERERS) == registry.FORMATS
    with pytest.raises(ValueError, match="unknown format 'html'"):
        registry.render(shared_result(), "html", io.StringIO())


def test_a_renderer_module_can_be_imported_first():
    code = "import reports.sarif; from reports.render import RENDERERS; print(sorted(RENDERERS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2]).stdout
    assert out.strip() == str(sorted(registry.FORMATS))


def test_json_is_exactly_to_json():
    result = shared_result()
    text = rendered(result, "json")
    assert json.loads(text) == result.to_json()
    assert text.startswith('{\n  "schema": "pgolf-audit/1"')


def test_terminal_colour_on_request():
    plain = rendered(shared_result(), "terminal", width=100, color=False)
    coloured = rendered(shared_result(), "terminal", width=100, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert "tokens[p]" in plain  # text from the code is never read as rich markup


def test_unknown_rule_ids_render_everywhere():
    """A finding whose id the registry lacks (a new check, an old cache) still renders in every format."""
    result = AuditResult(target="x.py", findings=[Finding("NEW-CHECK-001", "", "WEIRD", "review", 0.5,
                                                          "something new", (Evidence("x.py", 3, "pass"),))])
    for fmt in registry.FORMATS:
        assert "NEW-CHECK-001" in rendered(result, fmt)
    assert "| Other: WEIRD | ⚠️ review |" in rendered(result, "markdown")


def test_one_seed_has_no_spread_in_the_statistics_line() -> None:
    from reports.render import stats_line

    one = AuditResult(target="records/track_10min_16mb/2026-01-01_X", findings=[], files=[],
                      verify={"stats": {"n": 1, "mean_bpb": 1.18042, "std_bpb": 0.0}})
    assert stats_line(one) == "1 seed: 1.18042 BPB"
