"""Time budgets and hardware (RULES.md §2): training within 600 s plus two average steps, no forced step
counts, training-data calibration inside the budget, evaluation within 600 s, 8xH100 SXM evidence."""
from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.verify.context import Context, Where, at, at_end, at_line, at_metric
from auditor.verify.evidence import SeedRun, family
from auditor.verify.log_record import LogRecord
from reports.model import Finding

_TRAIN_CALIBRATION = re.compile(
    r"(?:def\s+\w*(?:hessian|calib)\w*\s*\(|\w*(?:hessian|calib)\w*\s*\()[^)]*\btrain_(?:loader|files|stream|tokens)\b",
    re.I)
_HW_CLAIM = re.compile(r"(\d+)\s*[x×]\s*(?:NVIDIA\s+)?([A-Za-z]+\d+\w*)", re.I)
_FALSY = ("", "0", "none", "false", "-1")


@dataclass(frozen=True)
class EvalTime:
    """Evaluation wallclock of one seed: seconds, how it was obtained, and the phases summed."""

    seconds: float | None
    source: str
    phases: tuple[tuple[str, float], ...]


def eval_time(log: LogRecord) -> EvalTime:
    """`total_eval_time` when printed; else the scored eval phases after training (one per family),
    plus n-gram precompute (RULES.md TIME-006: #1514 summed roundtrip + sliding + n-gram + TTT)."""
    if log.total_eval_s is not None:
        return EvalTime(log.total_eval_s.value, "total_eval_time", ())
    per_family: dict[str, float] = {}
    for m in log.metrics:
        if m.eval_ms is not None and m.role == "official" and m.line > log.train_end_line:
            per_family[family(m.label)] = max(per_family.get(family(m.label), 0.0), m.eval_ms / 1000.0)
    phases = list(per_family.items())
    if log.ngram_precompute_s is not None:
        phases.append(("ngram_precompute", log.ngram_precompute_s.value))
    if not phases:
        return EvalTime(None, "none", ())
    return EvalTime(round(sum(s for _, s in phases), 3), "sum of eval phases", tuple(phases))


def check_train_time(ctx: Context) -> list[Finding]:
    """TIME-001: record-track training stops by 600 s, tolerating two average steps past the cap.

    Source: README (2026-03-18); baseline 600,038 ms; #1908/#1945 overshoots were not accepted.
    The tolerance in steps is the rule's `tolerance_steps` parameter."""
    if not ctx.record_track:
        return []
    cap_ms = float(ctx.limit("train_seconds_max")) * 1000.0
    steps = float(ctx.param("TIME-001", "tolerance_steps"))
    non_record_note = (" (README calls it a non-record submission, but the folder is in the record track)"
                       if re.search(r"non[- ]?record", ctx.ev.readme, re.I) else "")
    out = []
    for run in ctx.ev.runs:
        log = run.train
        if not over_train_cap(ctx, log):
            continue
        ms, avg = log.train_ms, log.step_avg_ms or 0.0
        out.append(ctx.finding(
            "TIME-001",
            f"seed {run.seed} trained {ms:,.0f} ms, more than {cap_ms:,.0f} ms plus {steps:g} steps of {avg:,.0f} ms: "
            f"ineligible for the record track{non_record_note}",
            at(log, log.stop or log.last_step)))
    return out


def over_train_cap(ctx: Context, log: LogRecord) -> bool:
    """TIME-001's test (either track): training ran past the cap plus the tolerated steps."""
    if log.train_ms is None:
        return False
    allowance = float(ctx.param("TIME-001", "tolerance_steps")) * (log.step_avg_ms or 0.0)
    return log.train_ms > float(ctx.limit("train_seconds_max")) * 1000.0 + allowance


def over_eval_cap(ctx: Context, seconds: float | None) -> bool:
    """TIME-006's test (either track): evaluation took more than the cap."""
    return seconds is not None and seconds > float(ctx.limit("eval_seconds_max"))


def check_step_forcing(ctx: Context, env: dict[str, str]) -> list[Finding]:
    """TIME-002: a forced step count (FORCE_STOP_STEP, ...) is an ablation, not record evidence.

    Source: #1908/#1945/#1956; cocohearts pinned #1945 to its strict <600 s commit (#2146)."""
    flags = [str(f) for f in ctx.param("TIME-002", "flags")]
    found = [(f, env[f]) for f in flags if str(env.get(f, "")).strip().lower() not in _FALSY]
    for run in ctx.ev.runs:
        for f in flags:
            value = run.train.hparams.get(f.lower(), "")
            if value.strip().lower() not in _FALSY and (f, value) not in found:
                found.append((f, value))
    if not found:
        return []
    return [ctx.finding("TIME-002", "run configured with " + ", ".join(f"{k}={v}" for k, v in found)
                        + ": training stops at a forced step, not at the wallclock cap")]


def _calibration_kind(run: SeedRun, script: str) -> str | None:
    cal = run.train.calibration
    if cal is None:
        return None
    if cal.value == "unknown" and _TRAIN_CALIBRATION.search(script):
        return "train"
    return str(cal.value)


def check_calibration(ctx: Context, script: str) -> list[Finding]:
    """TIME-004 / TIME-GPTQ-001: calibration on training data after the stop counts against 600 s.

    Source: valerio-oai on #569/#609 (2026-03-24): data-touching calibration is training; with no
    reserve it is a violation; a reserve that is too small is reviewed (precedent #1855, ~604 s)."""
    cap_ms = float(ctx.limit("train_seconds_max")) * 1000.0
    violations, reviews = [], []
    for run in ctx.ev.runs:
        log = run.train
        cal = log.calibration
        if cal is None or _calibration_kind(run, script) != "train" or log.train_ms is None:
            continue
        if cal.line < log.train_end_line:
            continue
        reserve = log.reserve_ms or 0.0
        spent = log.calibration_s.value if log.calibration_s is not None else None
        total = log.post_gptq_total_s.value if log.post_gptq_total_s is not None else None
        if reserve <= 0.0:
            spent_txt = f" for {spent:.1f} s" if spent is not None else ""
            violations.append((run, f"seed {run.seed}: calibration reads training data{spent_txt} after the "
                                    f"training clock stopped at {log.train_ms:,.0f} ms, with no time reserved"))
        elif spent is not None and log.train_ms + spent * 1000.0 > cap_ms:
            reviews.append((run, f"seed {run.seed}: training {log.train_ms / 1000:.1f} s + Hessians {spent:.1f} s "
                                 f"= {log.train_ms / 1000 + spent:.1f} s with a {reserve / 1000:g} s reserve"))
        elif total is not None and total * 1000.0 > cap_ms:
            reviews.append((run, f"seed {run.seed}: training and calibration ended at {total:.1f} s by the "
                                 f"log's own clock, with a {reserve / 1000:g} s reserve"))
    out = []
    if violations:
        out.append(ctx.finding("TIME-004", "; ".join(msg for _, msg in violations),
                               tuple(e for run, _ in violations for e in at(run.train, run.train.calibration))))
    if reviews:
        out.append(ctx.finding("TIME-GPTQ-001", "; ".join(msg for _, msg in reviews),
                               tuple(e for run, _ in reviews
                                     for e in at(run.train, run.train.calibration_s or run.train.post_gptq_total_s))))
    return out


def check_eval_time(ctx: Context) -> list[Finding]:
    """TIME-006: evaluating the artifact takes at most 600 s (record track).

    Source: README FAQ; valerio-oai on #529; cocohearts on #1972, #2121."""
    if not ctx.record_track:
        return []
    cap = float(ctx.limit("eval_seconds_max"))
    out = []
    for run in ctx.ev.runs:
        et = eval_time(run.log)
        if over_eval_cap(ctx, et.seconds):
            detail = ", ".join(f"{name} {s:.1f} s" for name, s in et.phases) or et.source
            out.append(ctx.finding(
                "TIME-006", f"seed {run.seed}: evaluation took {et.seconds:.1f} s ({detail}), over {cap:.0f} s",
                at(run.log, run.log.total_eval_s) or at_metric(run.log, run.metric)))
    return out


def check_selfgen_budget(ctx: Context) -> list[Finding]:
    """TIME-005: self-generated calibration after the clock plus evaluation should fit in 600 s.

    Source: valerio-oai on #728 ("probably legal"); merged #1019 (198 s) and #1204 (242 s)."""
    cap = float(ctx.limit("eval_seconds_max"))
    out = []
    for run in ctx.ev.runs:
        gen = run.train.selfgen_s
        et = eval_time(run.log)
        if gen is None or et.seconds is None:
            continue
        total = gen.value + et.seconds
        if total > cap:
            out.append(ctx.finding(
                "TIME-005", f"seed {run.seed}: self-generated calibration {gen.value:.1f} s "
                            f"+ evaluation {et.seconds:.1f} s = {total:.1f} s", at(run.train, gen)))
    return out


@dataclass(frozen=True)
class Hardware:
    """What the logs and submission.json show about the machine."""

    world_sizes: tuple[int, ...]
    gpus: tuple[str, ...]  # distinct nvidia-smi GPU names
    gpu_counts: tuple[int, ...]  # distinct GPU indices per log
    claimed: str | None  # submission.json "hardware"

    def to_json(self) -> dict[str, object]:
        return {"world_sizes": list(self.world_sizes), "gpus": list(self.gpus), "gpu_counts": list(self.gpu_counts),
                "claimed": self.claimed}


def hardware(ctx: Context) -> Hardware:
    runs = ctx.ev.runs
    claim = ctx.ev.submission.data.get("hardware")
    return Hardware(
        world_sizes=tuple(sorted({r.train.world_size.value for r in runs if r.train.world_size is not None})),
        gpus=tuple(sorted({g.value[1] for r in runs for g in r.train.gpus})),
        gpu_counts=tuple(sorted({len({g.value[0] for g in r.train.gpus}) for r in runs if r.train.gpus})),
        claimed=claim if isinstance(claim, str) else None)


def check_hardware(ctx: Context) -> list[Finding]:
    """TIME-HW-001 / TIME-HW-002: record claims need 8xH100 SXM evidence.

    Source: README (8xH100, SXM variant); cocohearts on #2103/#1959 (1xH100 / projections rejected)."""
    if not ctx.record_track:
        return []
    hw = hardware(ctx)
    problems = []
    if any(ws != 8 for ws in hw.world_sizes):
        problems.append(f"world_size {list(hw.world_sizes)}")
    odd = [g for g in hw.gpus if "H100" not in g or "PCIe" in g or "NVL" in g]
    if odd:
        problems.append("GPU " + ", ".join(odd))
    if any(n != 8 for n in hw.gpu_counts):
        problems.append(f"{list(hw.gpu_counts)} GPUs in nvidia-smi")
    if hw.claimed is not None:
        m = _HW_CLAIM.search(hw.claimed)
        if (m and (m.group(1) != "8" or m.group(2).upper() != "H100")) or "pcie" in hw.claimed.lower():
            problems.append(f"submission.json hardware {hw.claimed!r}")
    if problems:
        evidence = tuple(e for r in ctx.ev.runs
                         for e in (at(r.train, r.train.gpus[0]) if r.train.gpus else at(r.train, r.train.world_size)))
        return [ctx.finding("TIME-HW-001", "record-track run shows " + "; ".join(problems)
                            + " (record evidence must come from 8xH100 SXM)", evidence[:3])]
    if not hw.world_sizes and not hw.gpus and hw.claimed is None:
        message = "the logs print no world_size line or nvidia-smi table, and submission.json has no hardware field"
        stated = _HW_CLAIM.search(ctx.ev.readme)
        evidence: tuple[Where, ...] = ()
        if stated:
            message += f"; only the README states {stated.group(0)!r}, which no log confirms"
            line = ctx.ev.readme.count("\n", 0, stated.start()) + 1
            evidence = at_line(ctx.ev.file(ctx.ev.layout.readme), line, ctx.ev.readme.split("\n")[line - 1])
        return [ctx.finding("TIME-HW-002", message, evidence)]
    return []


def check_train_evidence(ctx: Context) -> list[Finding]:
    """LOG-003: a record-track seed must show how long it trained.

    Source: LOG_FORMATS.md §4 (stop line, else the last step line's train_time)."""
    if not ctx.record_track:
        return []
    missing = [r for r in ctx.ev.runs if r.train.train_ms is None]
    if not missing:
        return []
    return [ctx.finding("LOG-003", "no stop line or step line with train_time for seed(s) "
                        + ", ".join(str(r.seed) for r in missing),
                        tuple(e for r in missing for e in at_end(r.train, "no training time")))]
