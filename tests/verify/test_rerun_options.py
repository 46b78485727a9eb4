"""`verify --rerun` options: --data reaches the script, --nproc picks the launcher, and the rerun table
is rendered in the terminal and markdown reports."""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from auditor.verify import command
from auditor.verify.rerun import _command, rebase_data_paths
from reports.model import AuditResult
from reports.render import render
from tests.verify.conftest import CLEAN, edit

# Reports what it was given instead of training; the rerun shows its last stderr line.
DATA_PROBE = """import os, sys
shard = os.path.join(os.environ["DATA_PATH"], "fineweb_val_000000.bin")
linked = sorted(os.listdir("data/datasets/fineweb10B_sp1024"))
sys.exit(f"probe: {open(shard).read().strip()} via env, {linked} via ./data")
"""


def _verify(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pgolf-audit")
    command.add_parser(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["verify", *argv])
    return args.func(args)


@pytest.fixture
def probe_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "records" / "track_10min_16mb" / CLEAN.name
    shutil.copytree(CLEAN, folder)
    edit(folder / "README.md", "torchrun --standalone",
         "DATA_PATH=../../data/datasets/fineweb10B_sp1024 torchrun --standalone")
    (folder / "train_gpt.py").write_text(DATA_PROBE, encoding="utf-8")
    return folder


def test_rebase_data_paths() -> None:
    data = Path("/srv/golf/data")
    env = {"DATA_PATH": "./data/datasets/fineweb10B_sp1024", "TOKENIZER_PATH": "../data/tokenizers/sp.model",
           "DATA_DIR": "/home/me/shards", "DATA_WORKERS": "4", "NUM_LAYERS": "11"}
    assert rebase_data_paths(env, data) == {
        "DATA_PATH": "/srv/golf/data/datasets/fineweb10B_sp1024", "TOKENIZER_PATH": "/srv/golf/data/tokenizers/sp.model",
        "DATA_DIR": "/srv/golf/data", "DATA_WORKERS": "4", "NUM_LAYERS": "11"}


def test_data_reaches_the_script_through_env_and_link(probe_folder: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    (data / "datasets" / "fineweb10B_sp1024").mkdir(parents=True)
    (data / "datasets" / "fineweb10B_sp1024" / "fineweb_val_000000.bin").write_text("shard-bytes")
    code = _verify([str(probe_folder), "--rerun", "--seeds", "1", "--nproc", "1", "--timeout", "30",
                    "--data", str(data), "--format", "json"])
    rerun = json.loads(capsys.readouterr().out)["verify"]["rerun"]
    (seed,) = rerun["seeds"]
    assert "probe: shard-bytes via env, ['fineweb_val_000000.bin'] via ./data" in seed["problem"], seed
    assert rerun["argv"] == [sys.executable, "train_gpt.py"] and rerun["data"] == str(data)
    assert rerun["env"]["DATA_PATH"] == str(data / "datasets" / "fineweb10B_sp1024")
    assert code == 0  # a rerun that fails is a review finding (SUB-SMOKE-001), not a violation


def test_data_must_be_a_folder(probe_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify([str(probe_folder), "--rerun", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--data is not a directory") and "\n" not in err


def test_nproc_overrides_the_readme(probe_folder: Path) -> None:
    from auditor.verify.evidence import gather
    from auditor.verify.folder import discover
    from rules import load_rules

    ev = gather(discover(probe_folder, load_rules()))
    assert _command(ev, ev.layout.script, None)[1][-2:] == ["--nproc_per_node=8", "train_gpt.py"]
    assert _command(ev, ev.layout.script, 1)[1] == [sys.executable, "train_gpt.py"]
    assert _command(ev, ev.layout.script, 2)[1][-2:] == ["--nproc_per_node=2", "train_gpt.py"]


def test_rerun_table_in_terminal_and_markdown() -> None:
    rerun = {"command": "torchrun --standalone --nproc_per_node=1 train_gpt.py", "bpb_tolerance": 0.002,
             "isolation": "socket guard", "seeds": [
                 {"seed": 1, "ok": True, "claimed_bpb": 1.1, "rerun_bpb": 1.1001, "claimed_bytes": 15_000_000,
                  "rerun_bytes": 15_000_000, "wall_s": 512.3, "exit": "exit 0", "problem": ""},
                 {"seed": 2, "ok": False, "claimed_bpb": 1.1, "rerun_bpb": 1.2, "claimed_bytes": 15_000_000,
                  "rerun_bytes": 15_000_100, "wall_s": 515.0, "exit": "exit 0",
                  "problem": "val_bpb 1.2 vs claimed 1.1 | artifact differs"}]}
    result = AuditResult(target="records/x", findings=[], verify={"seeds": [], "rerun": rerun})
    terminal, markdown = io.StringIO(), io.StringIO()
    render(result, "terminal", terminal, width=160)
    render(result, "markdown", markdown)
    assert "1 of 2 seeds reproduced" in terminal.getvalue() and "15,000,100" in terminal.getvalue()
    md = markdown.getvalue()
    assert "**Rerun:** torchrun --standalone --nproc_per_node=1 train_gpt.py: 1 of 2 seeds reproduced" in md
    assert "| 2 | 1.10000 | 1.20000 | 15,000,000 | 15,000,100 | 515.0 | exit 0 | val_bpb 1.2 vs claimed 1.1 \\| " \
           "artifact differs |" in md
