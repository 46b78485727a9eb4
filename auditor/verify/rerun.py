"""`pgolf-audit verify DIR --rerun`: run the submission's own command again and compare with its claims.

The folder is copied to a scratch directory (`sandbox.scratch_copy`; the original is never written, and
its files are fingerprinted before and after to prove it), its seed logs and
artifacts are removed from the copy, and for each seed the README's run command (its environment
assignments, SEED set to the seed) launches the folder's script under `sandbox.run_sandboxed`. The
fresh log is read with the verifier's own parser; its score must be within `bpb_tolerance` of what the
submitted log and submission.json claim for that seed, and its artifact size must be the same byte
count. Mismatches, failed and timed-out runs are findings (SUB-CLAIM-001 for numbers that do not
reproduce, SUB-SMOKE-001 for a rerun that does not finish).

A one-process command runs as `python SCRIPT`; more processes go through `python -m
torch.distributed.run --standalone`, in a sandbox whose network namespace has its loopback interface up
(the rendezvous and gloo/NCCL talk over 127.0.0.1) and nothing else.
"""
from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.scan import sha256_file
from auditor.verify.context import Context, at_line
from auditor.verify.evidence import Evidence, gather
from auditor.verify.folder import discover
from auditor.verify.run_env import env_from_text, run_command
from auditor.verify.sandbox import run_sandboxed, scratch_copy
from auditor.verify.size import artifact_bytes
from reports.model import Finding
from rules import load_rules

DEFAULT_TIMEOUT_S = 900.0
DEFAULT_MEMORY_BYTES = 64 * 1024 ** 3
DEFAULT_BPB_TOLERANCE = 0.002
_NPROC = re.compile(r"--nproc[_-]per[_-]node[= ](\d+)")
_ARTIFACTS = (".ptz", ".pt", ".bin.zst")


@dataclass
class SeedRerun:
    seed: int
    ok: bool
    claimed_bpb: float | None
    rerun_bpb: float | None
    claimed_bytes: int | None
    rerun_bytes: int | None
    wall_s: float
    problem: str = ""
    exit: str = ""  # "exit 0", "killed by SIGKILL (timeout)", ...
    stragglers: int = 0  # processes it left running, killed by the sandbox

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "ok": self.ok, "claimed_bpb": self.claimed_bpb, "rerun_bpb": self.rerun_bpb,
                "claimed_bytes": self.claimed_bytes, "rerun_bytes": self.rerun_bytes,
                "wall_s": round(self.wall_s, 2), "exit": self.exit, "stragglers": self.stragglers,
                "problem": self.problem}


@dataclass
class RerunOutcome:
    findings: list[Finding] = field(default_factory=list)
    block: dict[str, Any] = field(default_factory=dict)


def _command(ev: Evidence, script: Path, nproc: int | None) -> tuple[dict[str, str], list[str], str | None]:
    """The README's environment and the argv to run; `nproc` (when given) replaces the command's own."""
    line = run_command(ev)
    env = env_from_text(line) if line else {}
    if nproc is None:
        m = _NPROC.search(line or "")
        nproc = int(m.group(1)) if m else 1
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               script.name]
    else:
        cmd = [sys.executable, script.name]
    return env, cmd, line


def rebase_data_paths(env: dict[str, str], data: Path) -> dict[str, str]:
    """Point the command's data settings at `data` (the challenge's `data/` folder on this machine).

    A variable whose name mentions DATA or TOKENIZER and whose value is a path keeps the part after a
    `data` component, the last one (`./data/datasets/fineweb10B_sp1024` -> DATA/datasets/fineweb10B_sp1024);
    a DATA path without one becomes DATA itself. Values that are not paths (`DATA_WORKERS=4`) and other
    variables are left alone."""
    out = dict(env)
    for name, value in env.items():
        if "DATA" not in name and "TOKENIZER" not in name:
            continue
        parts = Path(value).parts
        if "data" in parts:
            last = len(parts) - 1 - parts[::-1].index("data")
            out[name] = str(data.joinpath(*parts[last + 1:]))
        elif "DATA" in name and "/" in value:
            out[name] = str(data)
    return out


def _claims(ev: Evidence, seed: int) -> tuple[float | None, int | None]:
    """What the folder claims for `seed`: submission.json's seed row, else the submitted log."""
    row = ev.submission.seed_claims.get(seed, {})
    run = next((r for r in ev.runs if r.seed == seed), None)
    bpb = row.get("val_bpb")
    if bpb is None and run is not None and run.metric is not None:
        bpb = run.metric.val_bpb
    size = row.get("artifact_bytes") or row.get("bytes_total")
    if size is None and run is not None:
        size = artifact_bytes(run)
    return bpb, int(size) if size is not None else None


def _fingerprint(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every regular file (symbolic links by their target text)."""
    prints = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            prints[rel] = "link:" + str(path.readlink())
        elif path.is_file():
            prints[rel] = sha256_file(path)
    return prints


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def rerun_folder(folder: Path, *, seeds: list[int] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 mem_bytes: int = DEFAULT_MEMORY_BYTES, bpb_tolerance: float = DEFAULT_BPB_TOLERANCE,
                 env: dict[str, str] | None = None, max_procs: int = 1024, nproc: int | None = None,
                 data: Path | None = None, progress: Callable[[int, int], None] | None = None,
                 evidence: Evidence | None = None) -> RerunOutcome:
    """Rerun the folder's command for each seed (default: the seeds its logs score) in a scratch copy.

    `nproc` overrides the command's process count; `data` is the challenge's `data/` folder, linked at
    ./data in the copy and substituted into the command's data paths (`rebase_data_paths`); `progress`
    is called with (seeds done, seeds in all) before each seed and at the end; `evidence` is the folder as
    the verifier already read it (read again when not given)."""
    folder = Path(folder).resolve()
    rules = load_rules()
    ev = evidence if evidence is not None else gather(discover(folder, rules))
    ctx = Context.build(ev, rules)
    out = RerunOutcome()
    script = ev.layout.script
    if script is None:
        out.findings.append(ctx.finding("SUB-SMOKE-001", "rerun: the folder has no training script to run"))
        out.block = {"command": None, "seeds": []}
        return out
    run_env, cmd, line = _command(ev, script, nproc)
    if data is not None:
        data = Path(data).resolve()
        run_env = rebase_data_paths(run_env, data)
    run_env.update(env or {})
    wanted = seeds if seeds else sorted(r.seed for r in ev.runs if r.metric is not None)
    results: list[SeedRerun] = []
    isolation = ""
    before = _fingerprint(folder)
    readme = ev.file(ev.layout.readme) or "README.md"
    for done, seed in enumerate(wanted):
        if progress is not None:
            progress(done, len(wanted))
        claimed_bpb, claimed_bytes = _claims(ev, seed)
        with tempfile.TemporaryDirectory(prefix="pgolf-rerun-") as tmp:
            scratch = Path(tmp) / folder.name
            scratch_copy(folder, scratch)
            for log in ev.layout.logs:  # the fresh log must be the only one
                (scratch / ev.layout.rel(log)).unlink(missing_ok=True)
            for p in scratch.rglob("*"):
                if p.is_file() and p.name.endswith(_ARTIFACTS):
                    p.unlink()
            if data is not None and not (scratch / "data").exists():
                (scratch / "data").symlink_to(data, target_is_directory=True)
            res = run_sandboxed(cmd, cwd=scratch, timeout_s=timeout_s, mem_bytes=mem_bytes,
                                env={**run_env, "SEED": str(seed)}, max_procs=max_procs,
                                loopback="torch.distributed.run" in cmd)
            isolation = res.isolation
            fresh = gather(discover(scratch, rules))
            run = next((r for r in fresh.runs if r.seed == seed and r.metric is not None), None)
            got_bpb = run.metric.val_bpb if run is not None else None
            got_bytes = artifact_bytes(run) if run is not None else None
        problem = ""
        if res.timed_out:
            problem = f"timed out after {timeout_s:g} s"
        elif run is None:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [""]
            problem = f"no scored log for seed {seed} ({res.ending}: {tail[0][:200]})"
        else:
            notes = []
            if claimed_bpb is not None and got_bpb is not None and abs(got_bpb - claimed_bpb) > bpb_tolerance:
                notes.append(f"val_bpb {got_bpb:.8f} vs claimed {claimed_bpb:.8f} "
                             f"(|delta| {abs(got_bpb - claimed_bpb):.6f} > {bpb_tolerance:g})")
            if claimed_bytes is not None and got_bytes is not None and got_bytes != claimed_bytes:
                notes.append(f"artifact {got_bytes:,} B vs claimed {claimed_bytes:,} B")
            problem = "; ".join(notes)
        if res.stragglers:
            problem += f"{'; ' if problem else ''}{res.stragglers} process(es) left running were killed"
        result = SeedRerun(seed, not problem, claimed_bpb, got_bpb, claimed_bytes, got_bytes, res.wall_s, problem,
                           res.ending, res.stragglers)
        results.append(result)
        if problem:
            rule = "SUB-CLAIM-001" if run is not None else "SUB-SMOKE-001"
            where = at_line(readme, 1, line or "") if line else ()
            out.findings.append(ctx.finding(rule, f"rerun of seed {seed}: {problem}", where))
    if progress is not None:
        progress(len(wanted), len(wanted))
    changed = _changed(before, _fingerprint(folder))
    if changed:  # the sandbox should make this impossible: say so loudly
        out.findings.append(ctx.finding("SUB-SMOKE-001", "rerun: the original folder changed while the submission ran "
                                        f"({', '.join(changed[:5])}): the sandbox did not hold; report it"))
    out.block = {"command": line, "argv": cmd, "env": run_env, "data": str(data) if data else None, "timeout_s": timeout_s,
                 "bpb_tolerance": bpb_tolerance, "isolation": isolation, "original_unchanged": not changed,
                 "seeds": [r.to_json() for r in results]}
    return out
