"""Temporary git repositories shaped like openai/parameter-golf, and a stand-in for auditor.api."""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from reports.model import AuditResult, Evidence, Finding

CLEAN = "records/track_10min_16mb/2026-04-01_Clean_Submission"
ILLEGAL = "records/track_10min_16mb/2026-04-02_PrequantTTT"
GIT = ["git", "-c", "user.name=pgolf test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false",
       "-c", "init.defaultBranch=main"]


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q")
        self.write("README.md", "# parameter-golf\n")
        self.write("train_gpt.py", "print('baseline')\n")
        self.write("records/track_10min_16mb/2026-03-19_Baseline/train_gpt.py", "print('old record')\n")
        self.commit("base")
        self.git("checkout", "-q", "-b", "pr")

    def git(self, *args: str) -> str:
        return subprocess.run([*GIT, "-C", str(self.root), *args], check=True, capture_output=True,
                              text=True).stdout

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def add_submission(self, folder: str, code: str = "print('train')\n") -> None:
        self.write(f"{folder}/train_gpt.py", code)
        self.write(f"{folder}/README.md", "# my submission\n")
        self.write(f"{folder}/submission.json", '{"name": "My run", "val_bpb": 1.1}\n')
        for seed in (1, 2, 3):
            self.write(f"{folder}/train_seed{seed}.log", f"seed:{seed}\nval_bpb:1.1{seed}\n")


def fake_audit_path(path: Path, *, env: dict[str, str] | None = None, verify: bool = True,
                    baseline: str | None = None) -> AuditResult:
    """Reads the exported folder like the real auditor would: "ILLEGAL" in the code is a violation,
    "REVIEWME" a review finding."""
    code = (path / "train_gpt.py").read_text(encoding="utf-8")
    findings = []
    for word, check, severity, condition in (("ILLEGAL", "EVAL-TTT-002", "violation", "C3"),
                                             ("REVIEWME", "EVAL-NGRAM-004", "review", "C1")):
        if word in code:
            line = next(i for i, text in enumerate(code.splitlines(), 1) if word in text)
            findings.append(Finding(check, "prequant_ttt", condition, severity, 0.9, f"{word} found",
                                    (Evidence("train_gpt.py", line, code.splitlines()[line - 1]),)))
    logs = sorted(p.name for p in path.glob("train_seed*.log"))
    seeds = [{"seed": i, "log": log, "val_loss": 1.9, "val_bpb": 1.1 + i / 100, "artifact_bytes": 15_000_000,
              "code_bytes": 1000, "train_time_s": 590.0, "eval_time_s": 300.0, "steps": 5000}
             for i, log in enumerate(logs, 1)]
    verify_block = {"track": path.parent.name, "seeds": seeds,
                    "stats": {"n": len(seeds), "mean_bpb": 1.12, "std_bpb": 0.01, "baseline": baseline,
                              "p_one_sided": None, "delta_bpb": None, "delta_nats": None},
                    "smoke": None} if verify else None
    return AuditResult(target=str(path), findings=findings, files=["train_gpt.py"], verify=verify_block)


def install_fake_api(monkeypatch: pytest.MonkeyPatch, audit=fake_audit_path) -> list[Path]:
    """Replace auditor.api (real or not yet written) by a module whose audit_path records its calls."""
    import auditor

    calls: list[Path] = []

    def audit_path(path: Path, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(path)
        return audit(path, **kwargs)

    fake = types.ModuleType("auditor.api")
    fake.audit_path = audit_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "auditor.api", fake)
    monkeypatch.setattr(auditor, "api", fake, raising=False)
    return calls


# --- a records folder the real auditor and verifier can read ----------------------------------

CLEAN_SCRIPT = '''"""A tiny trainer: train on the train shards, score the validation tokens once."""
import glob
import math

import numpy as np
import torch
import torch.nn.functional as F


def load_tokens(pattern):
    files = sorted(glob.glob(pattern))
    return torch.cat([torch.from_numpy(np.fromfile(f, dtype=np.uint16, offset=1024).astype(np.int64)) for f in files])


def eval_val(model, val_tokens, seq_len=1024):
    model.eval()
    loss_sum, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, val_tokens.numel() - 1, seq_len):
            chunk = val_tokens[start:start + seq_len + 1]
            x, y = chunk[:-1][None], chunk[1:][None]
            logits = model(x)
            loss_sum += F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), reduction="sum").item()
            count += y.numel()
    return loss_sum / count
%(adapt)s

def main():
    train = load_tokens("./data/datasets/fineweb10B_sp1024/fineweb_train_*.bin")
    val = load_tokens("./data/datasets/fineweb10B_sp1024/fineweb_val_*.bin")
    model = torch.nn.Sequential(torch.nn.Embedding(1024, 64), torch.nn.Linear(64, 1024))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(100):
        i = step * 1024
        x, y = train[i:i + 1024][None], train[i + 1:i + 1025][None]
        loss = F.cross_entropy(model(x).view(-1, 1024), y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
%(call)s    val_loss = eval_val(model, val)
    print(f"final_int8_zlib_roundtrip_exact val_loss:{val_loss:.8f} val_bpb:{val_loss / math.log(2):.8f}")


if __name__ == "__main__":
    main()
'''

PREQUANT_TTT = '''

def ttt_adapt(model, val_tokens, epochs=3, seq_len=1024):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for start in range(0, val_tokens.numel() - 1, seq_len):
            chunk = val_tokens[start:start + seq_len + 1]
            x, y = chunk[:-1][None], chunk[1:][None]
            loss = F.cross_entropy(model(x).view(-1, 1024), y.view(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
'''

LOG = """seed:{seed}
world_size:8 grad_accum_steps:1
train_loader:dataset:fineweb10B_sp1024 train_shards:80
val_loader:shards pattern=./data/datasets/fineweb10B_sp1024/fineweb_val_*.bin tokens:62021632
step:7000/20000 train_loss:1.7895 train_time:591335ms step_avg:84.48ms
stopping_early: wallclock_cap train_time: 599592ms step: 7101/20000
Serialized model int8+zlib: {model} bytes
Code size: {code} bytes
Total submission size int8+zlib: {total} bytes
final_int8_zlib_roundtrip_exact val_loss:{loss:.8f} val_bpb:{bpb:.8f} eval_time:75096ms
"""


def add_realistic_submission(root: Path, folder: str, prequant_ttt: bool = False) -> None:
    """train_gpt.py, README.md, submission.json and three seed logs that agree with each other."""
    import json

    def write(path: str, text: str) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")

    script = CLEAN_SCRIPT % {"adapt": PREQUANT_TTT if prequant_ttt else "",
                             "call": "    ttt_adapt(model, val)\n" if prequant_ttt else ""}
    write(f"{folder}/train_gpt.py", script)
    write(f"{folder}/README.md", "# Tiny run\n\nRun: `torchrun --standalone --nproc_per_node=8 train_gpt.py`\n")
    code, model = len(script.encode()), 15_815_847
    seeds = {1337: 1.12301, 42: 1.12352, 2024: 1.12333}
    for seed, bpb in seeds.items():
        write(f"{folder}/train_seed{seed}.log", LOG.format(seed=seed, model=model, code=code, total=model + code,
                                                               loss=bpb * 1.6888, bpb=bpb))
    write(f"{folder}/submission.json", json.dumps({
        "author": "A Person", "github_id": "aperson", "name": "Tiny run", "blurb": "a tiny run", "date": "2026-04-01",
        "track": "10min_16mb", "val_bpb": round(sum(seeds.values()) / 3, 8), "seeds": list(seeds),
        "seed_results": {str(s): {"val_bpb": b} for s, b in seeds.items()}, "bytes_total": model + code,
        "bytes_code": code}, indent=1) + "\n")
