"""`pgolf-audit scan`: expansion, parallel audits, the cache, and errors that never stop a sweep."""
from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import pytest

from auditor import scan
from reports.model import AuditResult, Evidence, Finding
from tests.reports.conftest import RULES
from tests.reports.gitrepo import install_fake_api


def fake_audit(path: Path, **kwargs) -> AuditResult:  # type: ignore[no-untyped-def]
    """"ILLEGAL" is a violation, "RAISE" an auditor exception, "CRASH" kills the worker process;
    `import helper` makes the audit read helper.py beside the script; `exec(` lists a decoded unit."""
    code_file = path / "train_gpt.py" if path.is_dir() else path
    code = code_file.read_text(encoding="utf-8")
    if "RAISE" in code:
        raise ValueError("cannot parse")
    if "CRASH" in code:
        os._exit(3)
    findings = [Finding("EVAL-TTT-002", "prequant_ttt", "C3", "violation", 1.0, "illegal",
                        (Evidence(code_file.name, 1, code.splitlines()[0]),))] if "ILLEGAL" in code else []
    files = [code_file.name] + (["helper.py"] if "import helper" in code else [])
    if "exec(" in code:  # a self-extracting stub: the decoded unit is listed under its label
        files.append(f"{code_file.name} (decoded at line 1)")
    verify = {"track": "t", "seeds": [], "stats": {"n": 3, "mean_bpb": 1.1, "std_bpb": 0.001}} if path.is_dir() else None
    return AuditResult(target=str(path), findings=findings, files=files, verify=verify)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    return install_fake_api(monkeypatch, fake_audit)


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_expand_finds_records_folders_and_scripts(tmp_path: Path):
    tree(tmp_path, {
        "records/track_10min_16mb/2026-03-19_A/train_gpt.py": "",  # dated folder under track_*: one submission
        "records/track_10min_16mb/2026-03-19_A/helper.py": "",
        "elsewhere/sub/submission.json": "{}",  # a folder with submission.json: one submission
        "elsewhere/sub/train_gpt.py": "",
        "scripts/a.py": "", "scripts/deep/b.py": "", "scripts/notes.txt": "",
        "scripts/__pycache__/a.cpython-311.py": "", "scripts/.hidden/c.py": "", "env/pyvenv.cfg": "", "env/d.py": "",
    })
    found = [p.relative_to(tmp_path).as_posix() for p in scan.expand([tmp_path])]
    assert found == ["elsewhere/sub", "records/track_10min_16mb/2026-03-19_A", "scripts/a.py", "scripts/deep/b.py"]
    assert scan.expand([tmp_path / "scripts/a.py", tmp_path / "missing.py"]) == [tmp_path / "missing.py",
                                                                                 tmp_path / "scripts/a.py"]


def test_sweep_turns_errors_into_rows(tmp_path: Path, calls: list[Path]):
    tree(tmp_path, {"a.py": "x = 1\n", "b.py": "ILLEGAL = 1\n", "c.py": "RAISE\n"})
    targets = scan.expand([tmp_path, tmp_path / "gone.py"])
    rows = scan.sweep(targets, jobs=1, cache=scan.Cache(None, ""))
    assert [(Path(r["target"]).name, r["verdict"]) for r in rows] == [
        ("a.py", "CLEAN"), ("b.py", "VIOLATION"), ("c.py", "ERROR"), ("gone.py", "ERROR")]
    assert rows[1]["checks"] == ["EVAL-TTT-002"] and rows[1]["violations"] == 1
    assert rows[2]["error"] == "ValueError: cannot parse"
    assert rows[3]["error"].startswith("FileNotFoundError")


def test_parallel_sweep_matches_serial_and_survives_a_dead_worker(tmp_path: Path, calls: list[Path]):
    files = {f"s{i}.py": ("ILLEGAL\n" if i % 3 == 0 else "ok\n") for i in range(8)}
    files["s5.py"] = "CRASH\n"
    tree(tmp_path, files)
    targets = scan.expand([tmp_path])
    parallel = scan.sweep(targets, jobs=3, cache=scan.Cache(None, ""))
    crashed = next(r for r in parallel if r["target"].endswith("s5.py"))
    assert crashed["verdict"] == "ERROR" and "died" in crashed["error"]
    files["s5.py"] = "ok\n"
    tree(tmp_path, files)
    serial = scan.sweep(targets, jobs=1, cache=scan.Cache(None, ""))
    assert [r["verdict"] for r in parallel if r is not crashed] == [r["verdict"] for r in serial
                                                                     if not r["target"].endswith("s5.py")]


def test_cache_hits_and_invalidation(tmp_path: Path, calls: list[Path]):
    src = tree(tmp_path / "src", {"a.py": "import helper\n", "helper.py": "x = 1\n", "b.py": "ILLEGAL\n",
                                  "records/track_x/2026-01-01_R/train_gpt.py": "y = 2\n", "w.py": "exec(blob)\n"})
    cache = scan.Cache.open(tmp_path / "cache", verify=True, baseline=None)
    targets = [src / "a.py", src / "b.py", src / "records/track_x/2026-01-01_R", src / "w.py"]

    first = scan.sweep(targets, jobs=1, cache=cache)
    assert len(calls) == 4 and not any(r["cached"] for r in first)
    again = scan.sweep(targets, jobs=1, cache=cache)
    assert len(calls) == 4 and all(r["cached"] for r in again)
    assert [r["verdict"] for r in again] == [r["verdict"] for r in first]

    (src / "helper.py").write_text("x = 2\n", encoding="utf-8")  # a file the audit of a.py read
    (src / "records/track_x/2026-01-01_R/train_seed1.log").write_text("new log\n", encoding="utf-8")
    scan.sweep(targets, jobs=1, cache=cache)
    assert [p.name for p in calls[4:]] == ["a.py", "2026-01-01_R"]

    other = scan.Cache.open(tmp_path / "cache", verify=False, baseline=None)  # other options: other key
    scan.sweep(targets[1:2], jobs=1, cache=other)
    assert calls[-1].name == "b.py"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pgolf-audit")
    scan.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["scan", *argv])


def test_cli_writes_csv_json_and_summary(tmp_path: Path, calls: list[Path], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]):
    import rules

    monkeypatch.setattr(rules, "load_rules", lambda *a: RULES)
    src = tree(tmp_path / "src", {"a.py": "ok\n", "b.py": "ILLEGAL\n"})
    args = parse(str(src), "--jobs", "1", "--cache", str(tmp_path / "cache"), "--csv", str(tmp_path / "out.csv"),
                 "--json", str(tmp_path / "out.json"))
    assert args.func is scan.run
    assert scan.run(args) == 1
    out = capsys.readouterr().out
    assert "2 submissions (0 from cache): 1 CLEAN, 1 VIOLATION" in out
    assert "EVAL-TTT-002" in out and "Test-time training on validation tokens" in out
    with open(tmp_path / "out.csv", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(Path(r["target"]).name, r["verdict"], r["checks"]) for r in table] == [
        ("a.py", "CLEAN", ""), ("b.py", "VIOLATION", "EVAL-TTT-002")]
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["submissions"][1]["result"]["verdict"] == "VIOLATION"

    assert scan.run(parse(str(src / "a.py"), "--no-cache")) == 0
    (src / "c.py").write_text("RAISE\n", encoding="utf-8")
    assert scan.run(parse(str(src), "--no-cache", "-j", "1")) == 2  # an error row outranks a violation


def test_real_sweep(tmp_path: Path):
    """The real auditor in worker processes: a clean records folder, an illegal one, a broken script."""
    from tests.reports.gitrepo import add_realistic_submission

    add_realistic_submission(tmp_path, "records/track_10min_16mb/2026-04-01_Clean")
    add_realistic_submission(tmp_path, "records/track_10min_16mb/2026-04-02_Illegal", prequant_ttt=True)
    tree(tmp_path, {"scripts/broken.py": "def f(:\n"})
    cache = scan.Cache.open(tmp_path / "cache", verify=True, baseline=None)
    rows = scan.sweep(scan.expand([tmp_path / "records", tmp_path / "scripts"]), jobs=2, cache=cache)
    verdicts = {Path(r["target"]).name: r["verdict"] for r in rows}
    assert verdicts["2026-04-01_Clean"] == "CLEAN" and verdicts["2026-04-02_Illegal"] == "VIOLATION"
    assert "broken.py" in verdicts  # whatever the auditor makes of it, the sweep went on
    again = scan.sweep(scan.expand([tmp_path / "records"]), jobs=2, cache=cache)
    assert all(r["cached"] for r in again)


def test_summary_shows_severities_as_reported_not_the_rule_default():
    """A precedent or a `since` date lowers a finding's severity: the summary counts what was reported."""
    from rich.console import Console

    def result(severity: str) -> dict:
        finding = Finding("EVAL-TTT-002", "prequant_ttt", "C3", severity, 1.0, "illegal", ())
        return AuditResult(target="x", findings=[finding], files=["train_gpt.py"]).to_json()

    rows = [scan.row_of(Path(f"s{i}"), {"result": result(sev)}, False)
            for i, sev in enumerate(("info", "violation", "info"))]
    console = Console(record=True, width=200)
    scan.print_summary(rows, console, RULES)
    line = next(ln for ln in console.export_text().splitlines() if ln.strip().startswith("EVAL-TTT-002"))
    assert "1 violation, 2 info" in line
