"""The review comment for each seed-thread situation, read the way a maintainer would before posting it:
every evidence line it cites is in the folder with the text it quotes, every "(over)" mark has the
finding that judges it, the environment it says it applied is written in the folder, the table has one
row per condition, and nothing recommends merging. Runs on the hand-written fixture folders, and on the
real PR heads when the challenge mirror is present."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from auditor.api import audit_path
from reports.markdown import ROWS
from reports.markdown import render as render_markdown
from tests.verify.conftest import MIRROR, RECORD
from tests.verify.test_seed_threads import FIXTURE_OF, SEED_COMMITS, _extract

OVER_RULE = {"artifact_bytes": "SIZE-001", "train_time_s": "TIME-001", "eval_time_s": "TIME-006"}
ENV_NOTE = "environment from the folder's run command and logs: "
SWITCHED_NOTE = "switched on because the logs print what their branches print: "


def check_comment(folder: Path) -> str:
    result = audit_path(folder)
    out = io.StringIO()
    render_markdown(result, out, repo_url="https://github.com/openai/parameter-golf", sha="0" * 40)
    md = out.getvalue()
    assert md.startswith("<!-- pgolf-audit:v1 target=") and "\n## pgolf-audit: " in md
    assert not re.search(r"\b(recommend|ready to|should be|safe to)\b[^.\n]*\bmerg", md, re.I), md
    for row in ROWS:
        assert md.count(f"| {row.label} |") == 1, row.label

    for finding in result.findings:
        for ev in finding.evidence:
            if ev.line <= 0 or not ev.snippet or ev.snippet.startswith(("[decoded line", "(end of log")):
                continue
            lines = (folder / ev.file).read_text(encoding="utf-8", errors="replace").splitlines()
            assert ev.line <= len(lines), (finding.check, ev)
            assert ev.snippet.strip()[:200] in lines[ev.line - 1], (finding.check, ev, lines[ev.line - 1])

    checks = {f.check for f in result.findings}
    seeds = (result.verify or {}).get("seeds") or []
    marked = [key for s in seeds for key in s["over_limit"]]
    assert md.count("(over)") == len(marked)
    assert all(OVER_RULE[key] in checks for key in marked)

    texts = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.iterdir())
                      if p.suffix in (".md", ".log", ".txt", ".json", ".sh"))
    for note in result.notes:
        if note.startswith(ENV_NOTE):
            for pair in note[len(ENV_NOTE):].split():
                key, value = pair.split("=", 1)
                written = f"{key}={value}" in texts or re.search(
                    rf"\b{key.lower()}\s*[:=]\s*{re.escape(value)}\b", texts, re.I)
                assert written, f"{pair} is not written in the folder"
        if note.startswith(SWITCHED_NOTE):   # a flag whose branch ran: the logs never print another value for it
            for pair in note[len(SWITCHED_NOTE):].split():
                key = pair.split("=", 1)[0]
                printed = re.findall(rf"\b{key.lower()}\s*[:=]\s*([\w.]+)", texts, re.I)
                assert all(v.lower() in ("1", "true") for v in printed), f"{pair}, but the logs print {printed}"
    return md


@pytest.mark.parametrize("thread", sorted(FIXTURE_OF))
def test_comment_for_seed_situation_fixture(thread: str) -> None:
    check_comment(RECORD / FIXTURE_OF[thread])


@pytest.mark.skipif(not MIRROR.is_dir(), reason="openai/parameter-golf mirror not available")
@pytest.mark.parametrize("thread", sorted(SEED_COMMITS))
def test_comment_for_seed_thread_real_pr_head(thread: str, tmp_path: Path) -> None:
    commit, path = SEED_COMMITS[thread]
    check_comment(_extract(commit, path, tmp_path))
