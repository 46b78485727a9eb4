"""`pgolf-audit gate` against temporary git repositories: base commit on main, the PR on a branch."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from auditor import gate
from tests.reports.conftest import RULES
from rules import load_rules
from tests.reports.gitrepo import CLEAN, ILLEGAL, Repo, add_realistic_submission, install_fake_api


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.setattr(gate, "load_rules", lambda: RULES)
    return install_fake_api(monkeypatch)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pgolf-audit")
    gate.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["gate", *argv])


def run_gate(repo: Repo, tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    """Run the gate like a GitHub job would; returns the exit code and what it wrote."""
    files = {name: tmp_path / name for name in ("summary.md", "output.txt", "comment.md")}
    env = {"GITHUB_STEP_SUMMARY": str(files["summary.md"]), "GITHUB_OUTPUT": str(files["output.txt"]), **(env or {})}
    args = parse("-C", str(repo.root), "--markdown-out", str(files["comment.md"]), *argv)
    code = gate.run(args, env=env)
    written = {name: path.read_text(encoding="utf-8") for name, path in files.items() if path.exists()}
    return code, written


def test_clean_submission_passes(repo: Repo, tmp_path: Path, calls: list[Path], capsys: pytest.CaptureFixture[str]):
    repo.add_submission(CLEAN)
    head = repo.commit("add clean submission")
    code, written = run_gate(repo, tmp_path, "--base", "main", "--repo-url", "https://github.com/o/r")
    assert code == 0
    assert [p.relative_to(p.parents[2]).as_posix() for p in calls] == [CLEAN]
    comment = written["comment.md"]
    assert comment.startswith(f"<!-- pgolf-audit:v1 target={CLEAN} -->")
    assert "✅ CLEAN" in comment and f"https://github.com/o/r/blob/{head}/{CLEAN}/train_gpt.py" in comment
    assert written["summary.md"] == comment
    assert "verdict=CLEAN" in written["output.txt"] and f"folder={CLEAN}" in written["output.txt"]
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("::notice title=pgolf-audit::") and "CLEAN" in out


def test_illegal_submission_fails(repo: Repo, tmp_path: Path, calls: list[Path], capsys: pytest.CaptureFixture[str]):
    repo.add_submission(ILLEGAL, "import torch\n\ndef adapt():\n    ILLEGAL = 1\n")
    repo.commit("add illegal submission")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 1
    assert "❌ VIOLATION" in written["comment.md"] and "EVAL-TTT-002" in written["comment.md"]
    assert "verdict=VIOLATION" in written["output.txt"]
    assert f"::error file={ILLEGAL}/train_gpt.py,line=4,title=EVAL-TTT-002 " in capsys.readouterr().out


def test_edits_outside_the_folder_fail(repo: Repo, tmp_path: Path, calls: list[Path], capsys: pytest.CaptureFixture[str]):
    repo.add_submission(CLEAN)
    repo.write("README.md", "# parameter-golf\nmy row in the leaderboard\n")
    repo.write("data/helper.py", "x = 1\n")
    repo.commit("submission plus stray edits")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 1
    assert len(calls) == 1  # the folder is still audited
    comment = written["comment.md"]
    assert "SUB-001" in comment and "touches 2 paths outside" in comment
    assert "`README.md`" in comment and "`data/helper.py`" in comment  # repository paths, not ../../../
    out = capsys.readouterr().out
    assert "::error file=README.md,title=SUB-001 " in out and "%0Aalso data/helper.py" in out


def test_review_passes_unless_strict(repo: Repo, tmp_path: Path, calls: list[Path]):
    repo.add_submission(CLEAN, "x = 1  # REVIEWME\n")
    repo.commit("submission needing review")
    assert run_gate(repo, tmp_path, "--base", "main")[0] == 0
    assert run_gate(repo, tmp_path, "--base", "main", "--strict")[0] == 1


def test_two_folders_fail_without_auditing(repo: Repo, tmp_path: Path, calls: list[Path]):
    repo.add_submission(CLEAN)
    repo.add_submission(ILLEGAL)
    repo.commit("two submissions")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 1 and calls == []
    assert "adds 2 records folders" in written["comment.md"]
    assert "this pull request (no single records folder)" in written["comment.md"]


@pytest.mark.parametrize("path", ["records/track_10min_16mb/2026-03-19_Baseline/train_gpt.py",  # edits a record
                                  "records/track_10min_16mb/my_run/train_gpt.py",  # no YYYY-MM-DD_ prefix
                                  "records/track_unlimited/2026-04-01_X/train_gpt.py",  # unknown track
                                  "submission.json"])  # a submission outside records/
def test_no_valid_new_folder_fails(repo: Repo, tmp_path: Path, calls: list[Path], path: str):
    repo.write(path, "print('changed')\n")
    repo.commit("bad layout")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 1 and calls == []
    assert "adds no new folder" in written["comment.md"] and f"`{path}`" in written["comment.md"]


def test_change_outside_records_is_not_a_submission(repo: Repo, tmp_path: Path, calls: list[Path],
                                                    capsys: pytest.CaptureFixture[str]):
    repo.write("README.md", "# parameter-golf\nfixed a typo\n")
    repo.commit("docs")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 0 and calls == []
    assert "not a records submission" in written["comment.md"]
    assert "verdict=NONE" in written["output.txt"]
    assert capsys.readouterr().out.startswith("::notice title=pgolf-audit::")


def test_audits_the_committed_folder_not_the_working_tree(repo: Repo, tmp_path: Path, calls: list[Path]):
    repo.add_submission(CLEAN)
    repo.commit("clean")
    repo.write(f"{CLEAN}/train_gpt.py", "ILLEGAL = 1\n")  # uncommitted
    assert run_gate(repo, tmp_path, "--base", "main")[0] == 0


def test_github_defaults(repo: Repo, tmp_path: Path, calls: list[Path]):
    """Base from $GITHUB_BASE_REF; permalinks to the pull request's head commit from the event payload."""
    repo.add_submission(CLEAN)
    head = repo.commit("clean")
    repo.git("update-ref", "refs/remotes/origin/main", "main")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": "f" * 40}}}), encoding="utf-8")
    env = {"GITHUB_BASE_REF": "main", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_EVENT_PATH": str(event)}
    code, written = run_gate(repo, tmp_path, env=env)
    assert code == 0
    assert f"https://github.com/o/r/blob/{'f' * 40}/{CLEAN}/train_gpt.py" in written["comment.md"]
    assert head not in written["comment.md"]


def test_sha_and_timestamp_options(repo: Repo, tmp_path: Path, calls: list[Path]):
    """--sha overrides the commit the permalinks use; the comment states a time only with --timestamp."""
    repo.add_submission(CLEAN)
    repo.commit("clean")
    code, written = run_gate(repo, tmp_path, "--base", "main", "--repo-url", "https://github.com/o/r", "--sha", "a" * 40)
    assert code == 0 and f"https://github.com/o/r/blob/{'a' * 40}/{CLEAN}/train_gpt.py" in written["comment.md"]
    assert "Generated" not in written["comment.md"]
    code, written = run_gate(repo, tmp_path, "--base", "main", "--timestamp")
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", written["comment.md"])


def test_unknown_base_is_a_usage_error(repo: Repo, tmp_path: Path, calls: list[Path], capsys: pytest.CaptureFixture[str]):
    repo.add_submission(CLEAN)
    repo.commit("clean")
    code, _ = run_gate(repo, tmp_path, "--base", "origin/nope")
    assert code == 2
    assert "fetch-depth: 0" in capsys.readouterr().out


def test_auditor_crash_is_exit_2(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gate, "load_rules", lambda: RULES)

    def broken(path: Path, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    install_fake_api(monkeypatch, broken)
    repo.add_submission(CLEAN)
    repo.commit("clean")
    assert run_gate(repo, tmp_path, "--base", "main")[0] == 2


def test_plan_is_pure():
    changes = [gate.Change("A", f"{CLEAN}/train_gpt.py"), gate.Change("A", f"{CLEAN}/logs/seed1.txt")]
    p = gate.plan(changes, RULES, lambda folder: True)
    assert (p.is_submission, p.folder, p.stray, p.problem) == (True, CLEAN, (), "")
    assert gate.sub001_finding(p, RULES) is None
    p = gate.plan([*changes, gate.Change("D", "train_gpt.py")], RULES, lambda folder: True)
    finding = gate.sub001_finding(p, RULES)
    assert finding and finding.severity == "violation" and finding.evidence[0].file == "../../../train_gpt.py"
    assert gate.plan([gate.Change("M", "README.md")], RULES, lambda folder: True).is_submission is False


# --- the same three cases through the real auditor, verifier and rules registry ---------------


def test_real_clean_submission_passes(repo: Repo, tmp_path: Path):
    add_realistic_submission(repo.root, CLEAN)
    repo.commit("clean")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 0, written["comment.md"]
    assert "verdict=CLEAN" in written["output.txt"]
    assert "## pgolf-audit: 2026-04-01_Clean_Submission — 1.12329 BPB (3-seed mean)" in written["comment.md"]


def test_real_illegal_submission_fails(repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    add_realistic_submission(repo.root, ILLEGAL, prequant_ttt=True)
    repo.commit("pre-quant TTT")
    code, written = run_gate(repo, tmp_path, "--base", "main")
    assert code == 1
    assert "EVAL-TTT-002" in written["comment.md"]
    assert f"::error file={ILLEGAL}/train_gpt.py,line=" in capsys.readouterr().out


def test_real_edits_outside_the_folder_fail(repo: Repo, tmp_path: Path):
    add_realistic_submission(repo.root, CLEAN)
    repo.write("README.md", "# parameter-golf\nmy leaderboard row\n")
    repo.commit("clean plus a README edit")
    severity = load_rules().rule(gate.SUB_001).severity
    code, written = run_gate(repo, tmp_path, "--base", "main", *(() if severity == "violation" else ("--strict",)))
    assert code == 1
    assert "SUB-001" in written["comment.md"] and "`README.md`" in written["comment.md"]
