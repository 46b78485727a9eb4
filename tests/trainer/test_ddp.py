"""A 2-process gloo DDP run (torchrun) trains the same model as a 1-process run with 2 accumulation steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from reference_trainer.loglines import parse

SETTINGS = ["--set", "iterations=8", "--set", "max_wallclock_seconds=0", "--set", "train_log_every=1",
            "--set", "quant_method=gptq_lite", "--set", "eval_stride=128", "--set", "ema_decay=0.5"]


def launch(data_dir: Path, out: Path, nproc: int) -> Path:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "reference_trainer.cli", "run", "--data", str(data_dir), "--preset", "tiny",
           "--seed", "3", "--nproc", str(nproc), "--no-progress", "--out", str(out), *SETTINGS]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def train_losses(log: Path) -> list[float]:
    parsed = (parse(line) for line in log.read_text().splitlines())
    return [float(p[1]["loss"]) for p in parsed if p and p[0] == "train_step"]


def test_two_rank_ddp_matches_single_process(data_dir: Path, tmp_path: Path) -> None:
    single = launch(data_dir, tmp_path / "single", 1)
    ddp = launch(data_dir, tmp_path / "ddp", 2)
    assert "world_size:2 grad_accum_steps:1" in (ddp / "train_seed3.log").read_text()
    assert "world_size:1 grad_accum_steps:2" in (single / "train_seed3.log").read_text()
    a, b = train_losses(single / "train_seed3.log"), train_losses(ddp / "train_seed3.log")
    assert len(a) == len(b) == 8
    assert a == b                                          # bit-identical on one CPU thread per rank
    sa = torch.load(single / "final_model.pt", map_location="cpu")["state_dict"]
    sb = torch.load(ddp / "final_model.pt", map_location="cpu")["state_dict"]
    worst = max(float((sa[k] - sb[k]).abs().max()) for k in sa)
    assert worst < 1e-6, f"largest weight difference {worst}"
