"""Significance against a baseline (RULES.md STAT-001, STAT-002).

A baseline is another records folder, a list of per-seed val_bpb values, or a merged leaderboard
row of rules/leaderboard.yaml named by PR number ("1514", "#1514", "PR1514") or folder name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from auditor.verify import stats
from auditor.verify.context import Context
from auditor.verify.data import tokenizer_family
from auditor.verify.evidence import gather
from auditor.verify.folder import discover
from reports.model import Finding
from rules import RULES_DIR, Rules

LEADERBOARD = RULES_DIR / "leaderboard.yaml"
_VALUES = re.compile(r"^\s*\d*\.\d+(?:\s*[,;\s]\s*\d*\.\d+)*\s*$")


class BaselineError(ValueError):
    """The --baseline argument names nothing we can read."""


@dataclass(frozen=True)
class Baseline:
    label: str
    bpb: tuple[float, ...]
    loss: tuple[float, ...] | None  # None when only BPB values are known
    tokenizer: str | None


@lru_cache(maxsize=2)
def leaderboard_rows(path: Path = LEADERBOARD) -> tuple[dict[str, Any], ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(data.get("rows") or ())


def _row(spec: str) -> dict[str, Any] | None:
    key = spec.strip().lstrip("#")
    key = key[2:] if key.lower().startswith("pr") else key
    for row in leaderboard_rows():
        if (key.isdigit() and row.get("pr") == int(key)) or row.get("folder") == spec.strip():
            return row
    return None


def _from_row(row: dict[str, Any]) -> Baseline:
    seeds = row["seeds"]
    bpb = tuple(float(v["val_bpb"]) for v in seeds.values())
    losses = [v.get("val_loss") for v in seeds.values()]
    loss = tuple(float(x) for x in losses) if all(x is not None for x in losses) else None
    pr = f"PR #{row['pr']}" if row.get("pr") else "launch snapshot"
    return Baseline(f"{pr} ({row['folder']})", bpb, loss, row.get("tokenizer"))


def _from_folder(path: Path, rules: Rules) -> Baseline:
    scores = gather(discover(path, rules)).scores()
    if not scores:
        raise BaselineError(f"baseline folder {path}: no seed with an official score in its logs")
    return Baseline(str(path), tuple(m.val_bpb for _, m in scores), tuple(m.val_loss for _, m in scores),
                    tokenizer_family(scores[0][0].train))


def resolve_baseline(spec: str, rules: Rules) -> Baseline:
    """Turn a --baseline argument into per-seed values; BaselineError names what is wrong."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_folder(path, rules)
    if _VALUES.match(spec):
        values = tuple(float(x) for x in re.split(r"[,;\s]+", spec.strip()) if x)
        return Baseline(f"values {list(values)}", values, None, None)
    row = _row(spec)
    if row is not None:
        return _from_row(row)
    raise BaselineError(f"baseline {spec!r} is not a folder, a list of val_bpb values, or a row of "
                        f"{LEADERBOARD.name} (PR number or folder name)")


def significance(ctx: Context, baseline: Baseline) -> tuple[stats.Comparison | None, list[Finding]]:
    """STAT-001 (README: >= 0.005 nats at p < 0.01) and STAT-002 (practice: one-sided Welch p < 0.25).

    Source: README (2026-03-18); cocohearts on #1899/#1902 (2026-04-28) and #2146."""
    scores = ctx.ev.scores()
    if not scores:
        return None, []
    new_bpb = [m.val_bpb for _, m in scores]
    new_loss = [m.val_loss for _, m in scores]
    fam = tokenizer_family(scores[0][0].train)
    same_tok = fam is not None and fam == baseline.tokenizer and baseline.loss is not None
    cmp = stats.compare(new_bpb, list(baseline.bpb), new_loss if same_tok else None,
                        list(baseline.loss) if same_tok and baseline.loss else None)
    p_practice = float(ctx.limit("p_value_practice"))
    p_readme = float(ctx.limit("p_value_readme"))
    margin = float(ctx.limit("margin_nats"))
    p = cmp.p_one_sided
    p_txt = f"p={p:.4f}" if p is not None else "p undefined (fewer than two seeds on a side or no variance)"
    delta = (f"mean {cmp.mean_bpb:.6f} vs {cmp.baseline_mean_bpb:.6f} BPB (delta {cmp.delta_bpb:+.6f} BPB, "
             f"{cmp.delta_nats:+.6f} nats {cmp.nats_unit})")
    out = []
    if not cmp.significant(p_practice):
        out.append(ctx.finding("STAT-002", f"one-sided Welch {p_txt} against {baseline.label} is not below "
                                           f"{p_practice}: {delta}"))
    if not (cmp.significant(p_readme) and cmp.margin_holds(margin)):
        why = []
        if not cmp.significant(p_readme):
            why.append(f"{p_txt} not below {p_readme}")
        if not cmp.margin_holds(margin):
            why.append(f"gain {-cmp.delta_nats:.6f} nats {cmp.nats_unit} below the {margin} margin")
        out.append(ctx.finding("STAT-001", f"README criterion against {baseline.label}: " + "; ".join(why)))
    return cmp, out
