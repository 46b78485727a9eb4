"""Seeds and their scores (RULES.md §3, SUB-005, SUB-007, LOG-001): which logs are which seed, whether
every seed has an official score, whether submission.json's numbers are the logs' numbers, enough
seeds for the record track, and one configuration across seeds."""
from __future__ import annotations

import math
import re

from auditor.verify import stats
from auditor.verify.context import Context, at, at_end, at_key, at_line, at_metric
from auditor.verify.evidence import SeedRun, decimals_of, family, same_number
from auditor.verify.log_record import LogRecord, Metric
from reports.model import Finding


def check_unreadable(ctx: Context) -> list[Finding]:
    """LOG-READ-001: a log that is binary, empty, not a regular file, unreadable or larger than the read cap.

    Source: pgolf-audit hostile-input handling (a log that cannot be read cannot be evidence)."""
    out = []
    for name, lt in ctx.ev.unreadable:
        why = lt.error or ("an empty file" if lt.empty else "binary content (NUL bytes or mostly undecodable)")
        out.append(ctx.finding("LOG-READ-001", f"{name}: not read as a train log: {why}",
                               at_line(name, 1, "")))
    layout = ctx.ev.layout
    for path, what in layout.logs_not_read:
        out.append(ctx.finding("LOG-READ-001", f"{layout.rel(path)}: not read as a train log: it is {what}"))
    for log in ctx.ev.logs:
        for note in log.notes:
            out.append(ctx.finding("LOG-READ-001", f"{log.name}: {note}; facts between were not seen",
                                   at_line(log.name, 1, "")))
    return out


def check_seed_identity(ctx: Context) -> list[Finding]:
    """SUB-005: each train log names one seed, agreeing with its file name and with other logs of it.

    Source: RULES.md SUB-005 / STAT-004 (seed logs are per seed; claims must match logs, #2139)."""
    out = []
    for log in ctx.ev.unseeded:
        out.append(ctx.finding("SUB-005", f"{log.name}: a train log with no seed in its lines or its name",
                               at_end(log, "no seed")))
    for log in ctx.ev.logs:
        stated = sorted({h.value for h in log.seeds_stated})
        if len(stated) > 1:
            out.append(ctx.finding("SUB-005", f"{log.name} states several seeds {stated}",
                                   tuple(e for h in log.seeds_stated[:3] for e in at(log, h))))
        elif stated and log.seed_from_name is not None and stated[0] != log.seed_from_name:
            out.append(ctx.finding("SUB-005", f"{log.name} is named for seed {log.seed_from_name} but runs seed "
                                              f"{stated[0]}", at(log, log.seed)))
    for run in ctx.ev.runs:
        if run.claim_matched or not run.duplicates or run.metric is None:
            continue
        fam = family(run.metric.label)
        others = [best for best in (_family_score(d, fam) for d in run.duplicates) if best is not None]
        if any(not same_number(b.val_bpb, run.metric.val_bpb, b.decimals, run.metric.decimals) for b in others):
            out.append(ctx.finding(
                "SUB-005", f"{len(others) + 1} logs for seed {run.seed} with different scores; "
                           f"{run.log.name} was used, nothing in submission.json decides between them",
                at_metric(run.log, run.metric)))
    return out


def _family_score(log: LogRecord, fam: str) -> Metric | None:
    """The log's score in metric family `fam`, preferring the exact (8-decimal) line."""
    same = [m for m in log.official_metrics() if family(m.label) == fam]
    return max(same, key=lambda m: (m.decimals >= 6, m.line), default=None)


def check_scores(ctx: Context) -> list[Finding]:
    """LOG-001 / LOG-SCORE-001: every seed has an official final-metric line, all of the same kind.

    Source: LOG_FORMATS.md §6 (official lines; score-method consistency)."""
    out = []
    unscored = [r for r in ctx.ev.runs if r.metric is None]
    if unscored:
        out.append(ctx.finding("LOG-001", "no official final-metric line for seed(s) "
                               + ", ".join(f"{r.seed} ({_unscored(r.log)})" for r in unscored),
                               tuple(e for r in unscored for e in at_end(r.log, "no final metric"))))
    scores = ctx.ev.scores()
    if len({family(m.label) for _, m in scores}) > 1:
        listing = ", ".join(f"seed {run.seed}: {m.label}" for run, m in scores)
        out.append(ctx.finding("LOG-SCORE-001", f"seeds are scored by different lines ({listing})",
                               tuple(e for run, m in scores for e in at_metric(run.log, m))[:4]))
    return out


def check_repeated_score(ctx: Context) -> list[Finding]:
    """LOG-SCORE-002: a seed log prints its official score twice with different values (or once as NaN).
    Scores of earlier runs appended to the same file (each starts with its own `seed:` line) are not compared.

    Source: LOG_FORMATS.md §6 (one official final line per evaluation); valerio-oai on #529."""
    out = []
    for run in ctx.ev.runs:
        m = run.metric
        if m is None:
            continue
        starts = [h.line for h in run.log.seeds_stated]   # a `seed:` line starts each run appended to a log
        others = [o for o in run.log.metrics
                  if o.role == "official" and o.line != m.line and family(o.label) == family(m.label)
                  and not (math.isfinite(o.val_bpb) and same_number(o.val_bpb, m.val_bpb, o.decimals, m.decimals))
                  and not any(min(o.line, m.line) < start < max(o.line, m.line) for start in starts)]
        if others:
            also = ", ".join(f"{o.val_bpb:g} at line {o.line}" for o in others)
            out.append(ctx.finding(
                "LOG-SCORE-002",
                f"seed {run.seed}: {run.log.name} scores {m.val_bpb:g} BPB at line {m.line} (the score used) "
                f"and also {also}", (*at_metric(run.log, m), *(e for o in others for e in at_metric(run.log, o)))))
    return out


def _unscored(log: LogRecord) -> str:
    nonfinite = any(m.role == "official" for m in log.metrics)
    return f"{log.name}, only NaN/inf scores" if nonfinite else log.name


def _any_line(ctx: Context, value: float) -> bool:
    dec = decimals_of(value)
    return any(same_number(m.val_bpb, value, m.decimals, dec) for log in ctx.ev.logs for m in log.official_metrics())


def _tolerance(ctx: Context, claim: float) -> float:
    """The mean tolerance, or half a unit in the claim's last written decimal when coarser."""
    return max(float(ctx.limit("mean_tolerance")), 0.5 * 10.0 ** -decimals_of(claim)) + 1e-12


def check_claimed_scores(ctx: Context) -> list[Finding]:
    """SUB-007 / STAT-MEAN-001 / STAT-MEAN-002: submission.json's scores are the logs' scores.

    Source: cocohearts on #1981/#1959 (claims must come from the logged run); RULES.md STAT-004
    (mean within 1e-5); merged #414 (headline = its best seed, reported as info)."""
    out = []
    for run in ctx.ev.runs:
        if run.claim is not None and run.claim_matched is False:
            shown = f"{run.metric.val_bpb:.8f} ({run.metric.label})" if run.metric else "no official line"
            out.append(ctx.finding(
                "SUB-007", f"submission.json claims val_bpb {run.claim} for seed {run.seed}; {run.log.name} "
                           f"shows {shown}", at_metric(run.log, run.metric)))
    head, scores = ctx.ev.submission.val_bpb, ctx.ev.scores()
    if head is None or not scores:
        return out
    mean = stats.mean([m.val_bpb for _, m in scores])
    if abs(head - mean) <= _tolerance(ctx, head):
        return out + _check_spread(ctx, scores)
    single = [run.seed for run, m in scores if same_number(m.val_bpb, head, 8, decimals_of(head))]
    where = at_key(ctx.ev, "val_bpb")
    if single:
        out.append(ctx.finding("STAT-MEAN-002", f"submission.json val_bpb {head} is seed {single[0]}'s score, "
                                                f"not the {len(scores)}-seed mean {mean:.8f}", where))
    elif _any_line(ctx, head):
        out.append(ctx.finding("STAT-MEAN-001", f"submission.json val_bpb {head} is printed by a log but is not "
                                                f"the mean {mean:.8f} of the seeds' official scores", where))
    else:
        out.append(ctx.finding("SUB-007", f"submission.json val_bpb {head} is neither the mean {mean:.8f} of the "
                                          f"{len(scores)} seed(s) nor any final-metric line in the logs", where))
    return out


def _check_spread(ctx: Context, scores: list[tuple[SeedRun, Metric]]) -> list[Finding]:
    """submission.json's val_loss mean and the stds, against the logs' `scores` (stds loosely: 5 %,
    either ddof)."""
    bpbs = [m.val_bpb for _, m in scores]
    losses = [m.val_loss for _, m in scores]
    checks: list[tuple[str, float, float]] = [("val_loss", stats.mean(losses), stats.mean(losses))]
    if len(bpbs) > 1:
        checks.append(("val_bpb_std", stats.std(bpbs), stats.std(bpbs, ddof=0)))
        checks.append(("val_loss_std", stats.std(losses), stats.std(losses, ddof=0)))
    out = []
    for key, value, alternative in checks:
        claim = ctx.ev.submission.number(key)
        if claim is None:
            continue
        tol = max(_tolerance(ctx, claim), 0.05 * value if key.endswith("_std") else 0.0)
        if abs(claim - value) > tol and abs(claim - alternative) > tol:
            what = "sample std" if key.endswith("_std") else "mean"
            out.append(ctx.finding("STAT-MEAN-001", f"submission.json {key} {claim} but the logs' {what} is "
                                                    f"{value:.8f}", at_key(ctx.ev, key)))
    return out


def check_seed_count(ctx: Context) -> list[Finding]:
    """STAT-004: a record needs at least three seeds (independently logged runs).

    Source: README (2026-03-19); valerio-oai on #181; cocohearts on #1963, #2020, #2121, #2139."""
    need = int(ctx.limit("min_seeds_record"))
    seeds = [run.seed for run, _ in ctx.ev.scores()]
    if not ctx.record_track or len(seeds) >= need:
        return []
    claimed = ctx.ev.submission.seeds
    extra = f"; submission.json lists {list(claimed)}" if claimed and len(claimed) != len(seeds) else ""
    return [ctx.finding("STAT-004", f"{len(seeds)} scored seed(s) {seeds} in the logs; a record needs "
                                    f"{need}{extra}",
                        tuple(e for r in ctx.ev.runs for e in at_metric(r.log, r.metric))[:3])]


def check_same_config(ctx: Context) -> list[Finding]:
    """STAT-CONFIG-001: all seeds run the same configuration (hyperparameters beyond seed/run id).

    Source: cocohearts on #2124 (a seed from another configuration is rejected)."""
    ignore = [re.compile(p) for p in ctx.param("STAT-CONFIG-001", "ignore")]
    dumps = [(r.seed, r.train) for r in ctx.ev.runs if r.train.hparams]
    if len(dumps) < 2:
        return []
    keys = sorted({k for _, log in dumps for k in log.hparams if not any(p.search(k) for p in ignore)})
    differing = [k for k in keys if len({log.hparams.get(k) for _, log in dumps}) > 1]
    if not differing:
        return []
    shown = "; ".join(f"{k}: " + ", ".join(f"{s}={log.hparams.get(k, '(absent)')}" for s, log in dumps)
                      for k in differing[:4])
    more = f" and {len(differing) - 4} more" if len(differing) > 4 else ""
    return [ctx.finding("STAT-CONFIG-001", f"hyperparameters differ across seeds: {shown}{more}")]
