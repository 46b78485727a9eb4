"""End to end on CPU: bundle the trainer into one train_gpt.py, run it for three seeds from a folder where
the `reference_trainer` package cannot be imported, pack the runs with `pgolf-train pack`, and audit the
packed folder with our own auditor. Also: a hand-edited submission.json gets a claims finding."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("sentencepiece") is None:
    pytest.skip("the [train] extra is not installed", allow_module_level=True)

from reference_trainer.data import prepare
from reference_trainer.pack import bundle_source, curves, pack
from tests.trainer.conftest import synthetic_corpus

SEEDS = (1, 2, 3)
# The tiny preset cut to 20 steps; a validation every 10 steps so the plot has a BPB curve.
RUN_ENV = {"PRESET": "tiny", "ITERATIONS": "20", "WARMDOWN_ITERS": "8", "TRAIN_LOG_EVERY": "5",
           "VAL_LOSS_EVERY": "10", "OMP_NUM_THREADS": "1"}
# Runs a script as __main__ with the repository's packages made unimportable: proves train_gpt.py stands alone.
BLOCKED_RUNNER = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('reference_trainer', 'auditor', 'reports', 'rules'):
            raise ImportError('blocked in this test: ' + name)
sys.meta_path.insert(0, Block())
script, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_path(script, run_name='__main__')
"""
ALLOWED = {"BPB-002", "SIZE-CODE-001"}  # tiny validation set; the --compress stub is decoded for the audit


def run_blocked(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 120):
    child = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    child.update(env or {})
    return subprocess.run([sys.executable, "-I", "-c", BLOCKED_RUNNER, *args], check=False, cwd=cwd, env=child,
                          capture_output=True, text=True, timeout=timeout)


def test_bundle_is_one_standalone_file(tmp_path: Path) -> None:
    source = bundle_source()
    tree = ast.parse(source)
    intra = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             and any(m.startswith("reference_trainer") for m in
                     ([n.module or ""] if isinstance(n, ast.ImportFrom) else [a.name for a in n.names]))]
    assert intra == []
    futures = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    assert len(futures) == 1
    (tmp_path / "train_gpt.py").write_text(source, encoding="utf-8")
    helped = run_blocked(["train_gpt.py", "--help"], tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "prepare" in helped.stdout and "pack" not in helped.stdout
    shown = run_blocked(["train_gpt.py", "config", "--preset", "tiny", "--set", "num_layers=3"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "num_layers" in shown.stdout and " 3" in shown.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    root = tmp_path_factory.mktemp("e2e")
    corpus = root / "corpus.txt"
    corpus.write_text(synthetic_corpus(1500), encoding="utf-8")
    data = root / "data"
    prepare([corpus], 512, data, val_docs=150)
    source = bundle_source()
    dirs = []
    for seed in SEEDS:
        d = root / f"seed{seed}"
        d.mkdir()
        (d / "train_gpt.py").write_text(source, encoding="utf-8")
        res = run_blocked(["train_gpt.py"], d, {**RUN_ENV, "SEED": str(seed), "DATA_DIR": str(data)}, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        assert (d / f"train_seed{seed}.log").is_file() and (d / "final_model.int6.ptz").is_file()
        dirs.append(d)
    return dirs, root


@pytest.fixture(scope="module")
def packed(runs: tuple[list[Path], Path]):
    dirs, root = runs
    folder, result = pack(dirs, name="tiny_e2e", author="Test Author", github_id="tester", track="non-record",
                          out=root / "records", baseline="0.95,0.96,0.97", compress=True)
    return folder, result


def test_pack_writes_a_records_folder(packed, runs) -> None:
    folder, _ = packed
    assert folder.parent.name == "track_non_record_16mb" and folder.name.endswith("_tiny_e2e")
    for name in ("train_gpt.py", "train_gpt_readable.py", "submission.json", "README.md", "requirements.txt",
                 "curves.png", *(f"train_seed{s}.log" for s in SEEDS)):
        assert (folder / name).is_file(), name
    sub = json.loads((folder / "submission.json").read_text())
    for key in ("author", "github_id", "name", "blurb", "date", "track", "val_bpb", "val_bpb_std", "val_loss",
                "val_loss_std", "bytes_total", "bytes_code", "seeds", "seed_results", "hardware",
                "pytorch_version", "compliance", "p_value", "delta_nats"):
        assert key in sub, key
    assert sub["seeds"] == list(SEEDS)
    rows = sub["seed_results"]
    assert set(rows) == {str(s) for s in SEEDS}
    for row in rows.values():
        assert {"val_bpb", "val_loss", "artifact_bytes", "steps", "step_avg_ms", "train_time_ms",
                "eval_time_s"} <= set(row)
        assert row["steps"] == 20
    assert sub["bytes_total"] == max(r["artifact_bytes"] for r in rows.values())
    assert abs(sub["val_bpb"] - sum(r["val_bpb"] for r in rows.values()) / 3) < 1e-7
    assert all(sub["compliance"].values()), sub["compliance"]
    assert sub["p_value"] < 0.5 and sub["delta_bpb"] < 0  # the tiny runs score well below 0.95
    readme = (folder / "README.md").read_text()
    assert "torchrun --standalone --nproc_per_node=1 train_gpt.py" in readme and "SEED=1" in readme
    for seed in SEEDS:
        assert f"| {seed} | {rows[str(seed)]['val_bpb']:.8f} |" in readme
    reqs = (folder / "requirements.txt").read_text().split()
    assert {"torch", "numpy", "sentencepiece"} <= set(reqs)
    dirs, _ = runs
    assert (folder / "train_seed1.log").read_bytes() == (dirs[0] / "train_seed1.log").read_bytes()
    train, val = curves((folder / "train_seed1.log").read_text())
    assert len(train) >= 10 and [s for s, _ in val] == [0, 10, 20]


def test_packed_folder_audits_without_violation(packed) -> None:
    from auditor.api import audit_path

    folder, result = packed
    again = audit_path(folder)
    for res in (result, again):
        assert res.verdict in ("CLEAN", "REVIEW")
        assert {f.check for f in res.findings} <= ALLOWED, [(f.check, f.message) for f in res.findings]
    block = again.verify
    assert [s["seed"] for s in block["seeds"]] == list(SEEDS)
    assert all(c["holds"] for c in block["claims"]), [c for c in block["claims"] if not c["holds"]]
    assert block["files"]["wrapped_script"] is True


def test_packed_script_runs_from_its_folder(packed, runs) -> None:
    """The compressed stub is the same program: `--help` works from a copy of the folder."""
    folder, _ = packed
    _, root = runs
    copy = root / "copy"
    shutil.copytree(folder, copy)
    res = run_blocked(["train_gpt.py", "--help"], copy)
    assert res.returncode == 0, res.stderr
    assert "run" in res.stdout


def test_hand_edited_bpb_gets_a_claims_finding(packed, runs) -> None:
    from auditor.verify import verify_folder

    folder, _ = packed
    _, root = runs
    edited = root / "edited" / folder.parent.name / folder.name
    shutil.copytree(folder, edited)
    path = edited / "submission.json"
    sub = json.loads(path.read_text())
    sub["seed_results"]["2"]["val_bpb"] = round(sub["seed_results"]["2"]["val_bpb"] - 0.05, 8)
    sub["val_bpb"] = round(sub["val_bpb"] - 0.05, 8)
    path.write_text(json.dumps(sub, indent=2))
    outcome = verify_folder(edited)
    checks = {f.check for f in outcome.findings}
    assert checks & {"SUB-CLAIM-001", "SUB-007"}, [(f.check, f.message) for f in outcome.findings]
    assert not (checks - ALLOWED - {"SUB-CLAIM-001", "SUB-007"})


def test_pack_refuses_logs_of_another_script_and_leaves_nothing(runs) -> None:
    """Logs whose embedded source is not the bundle (e.g. from `pgolf-train run`, which runs the package
    modules) would fail LOG-005: pack refuses them in one message that says how to run the bundle, and
    neither the records folder nor its staging directory is left behind."""
    from reference_trainer.pack import PackError

    dirs, root = runs
    other = root / "other_script"
    other.mkdir()
    log = dirs[0] / "train_seed1.log"
    text = log.read_text(encoding="utf-8")
    assert "def _bundle_argv(" in text
    (other / log.name).write_text(text.replace("def _bundle_argv(", "def _bundle_argv_renamed(", 1), encoding="utf-8")
    out = root / "refused"
    with pytest.raises(PackError, match=r"LOG-005|did not run the train_gpt\.py.*pgolf-train bundle"):
        pack([other, dirs[1], dirs[2]], name="refused", author="A", github_id="a", track="non-record", out=out)
    assert [p.relative_to(out) for p in out.rglob("*")] == [Path("track_non_record_16mb")]


def test_bundle_command_writes_the_script(tmp_path: Path, capsys) -> None:
    from reference_trainer.cli import main

    assert main(["bundle", "--out", str(tmp_path / "train_gpt.py")]) == 0
    assert (tmp_path / "train_gpt.py").read_text(encoding="utf-8") == bundle_source()
    assert "torchrun --standalone" in capsys.readouterr().out
    assert main(["bundle", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["train_gpt.py"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_reproduces_a_seed(runs) -> None:
    """An uncompressed pack: rerunning seed 2 in the sandbox gives the same BPB and the same artifact bytes."""
    from auditor.verify.rerun import rerun_folder

    dirs, root = runs
    folder, result = pack(dirs, name="tiny_plain", author="Test Author", github_id="tester", track="non-record",
                          out=root / "records")
    assert {f.check for f in result.findings} <= ALLOWED, [(f.check, f.message) for f in result.findings]
    before = _snapshot(folder)
    out = rerun_folder(folder, seeds=[2], timeout_s=240, env={"OMP_NUM_THREADS": "1"})
    assert _snapshot(folder) == before  # the original folder is never written
    (row,) = out.block["seeds"]
    assert row["ok"], row
    assert row["rerun_bytes"] == row["claimed_bytes"] and abs(row["rerun_bpb"] - row["claimed_bpb"]) < 1e-6
    assert out.findings == []


def test_rerun_of_hand_edited_claims_reports_each_mismatch(runs) -> None:
    """submission.json edited by hand after the run: a better BPB and a smaller artifact for seed 2. The
    rerun reproduces neither and names both numbers."""
    from auditor.verify.rerun import rerun_folder

    dirs, root = runs
    folder, _ = pack(dirs, name="tiny_edited", author="Test Author", github_id="tester", track="non-record",
                     out=root / "records")
    path = folder / "submission.json"
    sub = json.loads(path.read_text())
    row = sub["seed_results"]["2"]
    row["val_bpb"] = round(row["val_bpb"] - 0.05, 8)
    row["artifact_bytes"] -= 1000
    path.write_text(json.dumps(sub, indent=2))
    out = rerun_folder(folder, seeds=[2], timeout_s=240, env={"OMP_NUM_THREADS": "1"})
    (seed,) = out.block["seeds"]
    assert not seed["ok"] and seed["exit"] == "exit 0"
    assert f"vs claimed {row['val_bpb']:.8f}" in seed["problem"], seed["problem"]
    assert f"vs claimed {row['artifact_bytes']:,} B" in seed["problem"], seed["problem"]
    assert [f.check for f in out.findings] == ["SUB-CLAIM-001"]


def test_rerun_with_two_processes(runs) -> None:
    """`--nproc 2`: torchrun's rendezvous and gloo need loopback TCP, which the sandbox gives a multi-process
    rerun (a network namespace with only `lo` up). Two ranks reproduce the one-rank score closely, not
    bit for bit, so the artifact bytes may differ; the run itself must finish with a scored log."""
    from auditor.verify.rerun import rerun_folder

    dirs, root = runs
    folder, _ = pack(dirs[:1], name="tiny_ddp", author="Test Author", github_id="tester", track="non-record",
                     out=root / "records")
    out = rerun_folder(folder, seeds=[1], timeout_s=240, env={"OMP_NUM_THREADS": "1"}, nproc=2)
    if not out.block["isolation"].startswith("unshare -n (loopback only)"):
        pytest.skip("no network namespace here: a multi-process rerun is refused with the rest of the network")
    (row,) = out.block["seeds"]
    assert out.block["argv"][-2:] == ["--nproc_per_node=2", "train_gpt.py"]
    assert row["exit"] == "exit 0" and row["rerun_bpb"] is not None, row
    assert abs(row["rerun_bpb"] - row["claimed_bpb"]) < 0.002


def test_rerun_of_compressed_pack_reports_the_byte_difference(packed) -> None:
    """The seeds ran the readable bundle; the folder ships the lzma stub, so a rerun counts fewer code
    bytes: the artifact claim does not reproduce exactly and the rerun says so."""
    from auditor.verify.rerun import rerun_folder

    folder, _ = packed
    out = rerun_folder(folder, seeds=[1], timeout_s=240, env={"OMP_NUM_THREADS": "1"})
    (row,) = out.block["seeds"]
    assert abs(row["rerun_bpb"] - row["claimed_bpb"]) < 1e-6
    assert row["rerun_bytes"] < row["claimed_bytes"]
    assert [f.check for f in out.findings] == ["SUB-CLAIM-001"]


GATE_OUTPUTS = ("summary.md", "output.txt", "comment.md")


def run_gate_cli(repo: Path, tmp: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """`python -m auditor.cli gate` from the repository's root, as a GitHub job runs it; returns the process
    and the files it wrote ($GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT, --markdown-out)."""
    tmp.mkdir()
    files = {name: tmp / name for name in GATE_OUTPUTS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"GITHUB_STEP_SUMMARY": str(files["summary.md"]), "GITHUB_OUTPUT": str(files["output.txt"])})
    proc = subprocess.run([sys.executable, "-m", "auditor.cli", "gate", "--base", "main", "--head", "pr",
                           "--markdown-out", str(files["comment.md"]), *argv], check=False, cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, {name: path.read_text(encoding="utf-8") for name, path in files.items() if path.exists()}


def test_packed_folder_passes_the_gate_in_a_challenge_repo(packed, runs) -> None:
    """The issue's "done when": the packed folder, committed alone on a PR branch of a repository shaped like
    openai/parameter-golf, passes `pgolf-audit gate` with the real auditor and verifier."""
    from tests.reports.gitrepo import Repo

    folder, _ = packed
    _, root = runs
    repo = Repo(root / "gate_repo")
    rel = f"records/{folder.relative_to(folder.parents[1]).as_posix()}"  # records/<track dir>/<date>_tiny_e2e
    shutil.copytree(folder, repo.root / rel)
    repo.commit("add the packed submission")
    committed = set(repo.git("ls-tree", "-r", "--name-only", "pr", "--", rel).split())
    assert committed == {f"{rel}/{name}" for name in _snapshot(folder)}  # nothing left out by an ignore rule

    proc, written = run_gate_cli(repo.root, root / "gate_out")
    report = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}\n{written.get('summary.md', '')}"
    assert proc.returncode == 0, report
    summary = written["summary.md"]
    assert summary == written["comment.md"]
    assert summary.startswith(f"<!-- pgolf-audit:v1 target={rel} -->") and folder.name in summary
    assert "❌ VIOLATION" not in summary and "SUB-001" not in summary, summary
    assert ("**✅ CLEAN**" in summary) != ("**⚠️ REVIEW**" in summary), summary
    output = dict(line.split("=", 1) for line in written["output.txt"].splitlines())
    assert output["folder"] == rel and output["verdict"] in ("CLEAN", "REVIEW"), output
    lines = proc.stdout.strip().splitlines()
    assert not [line for line in lines if line.startswith("::error")], report
    warned = {m.group(1) for line in lines if (m := re.match(r"::warning .*title=([A-Z0-9-]+) ", line))}
    assert warned <= ALLOWED, report
    assert lines[-1].startswith("::notice title=pgolf-audit::") and f"{rel}: {output['verdict']}" in lines[-1]
