"""Numbers stated in README.md and submission.json against what the logs show (RULES.md SUB-007,
STAT-001 units). Each mismatch is a finding that quotes both values."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from auditor.verify import stats
from auditor.verify.context import Context, at_key, at_line
from auditor.verify.evidence import SeedRun
from auditor.verify.log_parse import decimal_places
from auditor.verify.size import artifact_bytes, over_size_cap
from auditor.verify.timing import eval_time, over_eval_cap, over_train_cap
from reports.model import Finding

_NATS = re.compile(r"(?<![\w.])([-+]?\d*\.\d+)\s*nats?\b", re.I)
_BPB_LIKE = re.compile(r"(?<![\w.])([0-2]\.\d{3,})(?![\w.])")
_HEADLINE = re.compile(r"val[_ ]bpb\W{0,6}?(\d\.\d{3,})", re.I)
_SEEDS_WORD = re.compile(r"(?<![=\w.])(\d+|one|two|three|four|five|single)[- ]seeds?\b(?!\s*=)", re.I)
_WORDS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_MB = re.compile(r"(?<![\w.])(\d{1,2}\.\d{1,4})\s*(MB|MiB)\b")
_HEADLINE_LINES = 12  # the headline val_bpb is stated in the title block
_STD = re.compile(r"(?:\b(?:std|stdev|std\.? ?dev|standard deviation)\b\W{0,4}|±\s*)(\d?\.\d{2,})(?!\d)", re.I)
_SECS = r"~?\s*(\d{2,4}(?:\.\d+)?)\s*(?:s|sec|secs|seconds)\b"
#: "trained in 615 seconds", "training time: 598s", "598 s of training" (not "600s" budgets or "4s reserve")
_TRAIN_TIME = re.compile(rf"\btrain(?:ed|ing)?(?: time| took| for| in| wallclock)*\s*[:=]?\s*{_SECS}"
                         rf"|(?<![\w.])(\d{{2,4}}(?:\.\d+)?)\s*(?:s|sec|secs|seconds) (?:of )?training\b", re.I)
_EVAL_TIME = re.compile(rf"\beval(?:uation)?(?: time| took| in| wallclock)*\s*[:=]?\s*{_SECS}"
                        rf"|(?<![\w.])(\d{{2,4}}(?:\.\d+)?)\s*(?:s|sec|secs|seconds) (?:of )?eval(?:uation)?\b", re.I)
_EXACT_KEYS = ("artifact_bytes", "bytes_total", "steps")


@dataclass(frozen=True)
class Claim:
    """One compared statement, kept in the verify block whether it holds or not."""

    source: str  # "README.md:12" or "submission.json:bytes_total"
    what: str
    claimed: str
    logs: str
    holds: bool

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "what": self.what, "claimed": self.claimed, "logs": self.logs,
                "holds": self.holds}


def _near(value: float, target: float, text: str, units: float = 0.5) -> bool:
    """Equal within `units` of the last decimal `text` was written with (half a unit: rounding)."""
    return abs(value - target) <= units * 10.0 ** -decimal_places(text) + 1e-12


def _close(a: float, b: float, rel: float = 0.005) -> bool:
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), 1.0)


def _readme_name(ctx: Context) -> str:
    return ctx.ev.file(ctx.ev.layout.readme) or "README.md"


def check_units(ctx: Context) -> list[Finding]:
    """STAT-UNITS-001: a gain stated in nats that is the difference of two BPB numbers.

    Source: README (the 0.005 margin is in nats of val_loss per token); seed thread #478
    ("beats SOTA (1.14276) by 0.016 nats" where 1.14276 - 1.12676 is BPB)."""
    scores = ctx.ev.scores()
    if not scores:
        return []
    ours = [m.val_bpb for _, m in scores]
    ours.append(stats.mean(ours))
    ratio = stats.mean([m.val_loss / m.val_bpb for _, m in scores])
    if abs(ratio - 1.0) < 0.1:  # per-token nats and BPB nearly coincide (byte-level models)
        return []
    out = []
    reported: set[str] = set()
    for lineno, line in enumerate(ctx.ev.readme.splitlines(), 1):
        on_line = [float(x) for x in _BPB_LIKE.findall(line)]
        for m in _NATS.finditer(line):
            text = m.group(1).lstrip("+-")
            x = float(text)
            if x == 0 or text in reported:
                continue
            # a BPB number on the same line minus this submission's own BPB
            pair = next(((a, b) for a in on_line for b in ours if a > b and _near(a - b, x, text)), None)
            if pair is None:
                continue
            reported.add(text)
            a, b = pair
            out.append(ctx.finding(
                "STAT-UNITS-001",
                f"README states a gain of {text} nats, but {a:g} - {b:.5f} = {a - b:.5f} is a difference in BPB; "
                f"in nats it is about {x * ratio:.4f} per token (x{ratio:.3f} = val_loss/val_bpb of these logs) "
                f"or {x * math.log(2):.4f} per byte (x ln 2)",
                at_line(_readme_name(ctx), lineno, line.strip()), confidence=0.8))
    sub = ctx.ev.submission
    for key in sub.data:
        if key.startswith("delta") and key.endswith("_nats"):
            nats, twin = sub.number(key), sub.number(key[: -len("_nats")] + "_bpb")
            if nats and twin is not None and abs(nats - twin) < 1e-9:
                out.append(ctx.finding("STAT-UNITS-001", f"submission.json {key} = {nats} equals "
                                                         f"{key[:-5]}_bpb: the BPB delta is reported as nats",
                                       at_key(ctx.ev, key)))
    return out


def _readme_claims(ctx: Context) -> list[Claim]:
    ev, readme = ctx.ev, _readme_name(ctx)
    lines = ev.readme.splitlines()
    vals = [m.val_bpb for _, m in ev.scores()]
    if not vals:
        return []
    claims: list[Claim] = []
    official = [m.val_bpb for log in ev.logs for m in log.official_metrics()]
    headline = next(((i, h.group(1)) for i, line in enumerate(lines[:_HEADLINE_LINES], 1)
                     for h in [_HEADLINE.search(line)] if h), None)
    if headline is not None:
        i, text = headline
        ok = any(_near(x, float(text), text, units=1.0) for x in [stats.mean(vals), *official])
        claims.append(Claim(f"{readme}:{i}", "headline val_bpb", text,
                            f"mean {stats.mean(vals):.5f} over {len(vals)} seed(s)", ok))
    counts = [(i, m.group(0), m.group(1).lower()) for i, line in enumerate(lines, 1)
              for m in _SEEDS_WORD.finditer(line)]
    stated = {_WORDS.get(c, int(c) if c.isdigit() else 0) for _, _, c in counts}
    if counts and len(vals) not in stated:
        i, phrase, _ = counts[0]
        claims.append(Claim(f"{readme}:{i}", "number of seeds", phrase, f"{len(vals)} seed log(s) with a score", False))
    return claims + _spread_claims(readme, lines, vals) + _time_claims(ctx, readme, lines) + \
        _table_claims(ctx, readme, lines)


def _spread_claims(readme: str, lines: list[str], vals: list[float]) -> list[Claim]:
    """"Std: 0.0005", "± 0.0004": the spread of the seeds' scores (sample or population std, as written)."""
    if len(vals) < 2:
        return []
    sample, population = stats.std(vals), stats.std(vals, ddof=0)
    for i, line in enumerate(lines, 1):
        for m in _STD.finditer(line):
            text = m.group(1)
            if float(text) >= 0.1:   # a BPB spread is hundredths at most: this is some other number
                continue
            ok = any(_near(v, float(text), text, units=1.0) or abs(v - float(text)) <= 0.1 * v
                     for v in (sample, population))   # authors round, and compute it from unrounded scores
            return [Claim(f"{readme}:{i}", "std of val_bpb", text, f"{sample:.5f} over {len(vals)} seed(s)", ok)]
    return []


def _time_claims(ctx: Context, readme: str, lines: list[str]) -> list[Claim]:
    """A measured time stated in so many words ("trained in 615 seconds", "eval time: 97s") against the
    seeds' logged times (an evaluation's phases included): one seed's time to the second, or within 2 % of
    a training time and 5 % of an evaluation time (READMEs round). The 600 s budget itself is not a claim."""
    train = [r.train.train_ms / 1000.0 for r in ctx.ev.runs if r.train.train_ms is not None]
    evals = [t for r in ctx.ev.runs for t in _eval_seconds(r)]
    budget = float(ctx.limit("train_seconds_max"))
    out = []
    for kind, pattern, actual, rel in (("training time", _TRAIN_TIME, train, 0.02),
                                       ("evaluation time", _EVAL_TIME, evals, 0.05)):
        if not actual:
            continue
        shown = ", ".join(f"{a:.1f} s" for a in sorted(set(actual)))
        for i, line in enumerate(lines, 1):
            for m in pattern.finditer(line):
                value = float(m.group(1) or m.group(2))
                if value != budget:
                    ok = any(abs(a - value) <= max(1.0, rel * a) for a in actual)
                    out.append(Claim(f"{readme}:{i}", kind, m.group(0).strip(), shown, ok))
    return out


def _eval_seconds(run: SeedRun) -> list[float]:
    """A seed's evaluation time and its phases (a README may state either)."""
    et = eval_time(run.log)
    return ([et.seconds] if et.seconds is not None else []) + [s for _, s in et.phases]


def _table_claims(ctx: Context, readme: str, lines: list[str]) -> list[Claim]:
    """Rows of README tables that start with a seed: their BPB and MB figures against that seed's logs."""
    runs = {run.seed: (run, m) for run, m in ctx.ev.scores()}
    out = []
    for i, line in enumerate(lines, 1):
        if not line.lstrip().startswith("|"):
            continue
        cells = [c.strip(" *`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit() or int(cells[0]) not in runs:
            continue
        run, metric = runs[int(cells[0])]
        row = " | ".join(cells[1:])
        bpbs = [t for t in _BPB_LIKE.findall(row) if len(t.split(".")[1]) >= 4 and 0.8 < float(t) < 2.0]
        printed = [m.val_bpb for log in (run.log, run.train, *run.duplicates) for m in log.metrics]
        if bpbs and not any(_near(v, float(t), t, units=1.0) for t in bpbs for v in printed):
            out.append(Claim(f"{readme}:{i}", f"seed {run.seed} val_bpb", ", ".join(bpbs),
                             f"{metric.val_bpb:.8f} ({metric.label})", False))
        size = artifact_bytes(run)
        if size is None:
            continue
        candidates = [size, *run.log.model_bytes.values(), *run.train.model_bytes.values()]
        for num, unit in _MB.findall(row):
            if not any(_near(b / 1e6, float(num), num) or _near(b / 2 ** 20, float(num), num) for b in candidates):
                out.append(Claim(f"{readme}:{i}", f"seed {run.seed} size", f"{num} {unit}",
                                 f"{size:,} bytes ({size / 1e6:.2f} MB)", False))
    return out


def _seed_result_claims(name: str, seed: int, row: dict[str, float], run: SeedRun) -> list[Claim]:
    log, et = run.train, eval_time(run.log).seconds
    size = artifact_bytes(run)
    actuals = {"artifact_bytes": size, "bytes_total": size, "steps": log.steps, "train_time_ms": log.train_ms,
               "train_time_s": log.train_ms / 1000 if log.train_ms else None, "eval_time_s": et,
               "eval_time_ms": et * 1000 if et else None, "step_avg_ms": log.step_avg_ms}
    claims = []
    for key, actual in actuals.items():
        if key not in row or actual is None:
            continue
        value = row[key]
        if key in _EXACT_KEYS:  # a size may be reported as the compressed model alone
            ok = abs(value - actual) <= 1 or (key != "steps" and int(value) in log.model_bytes.values())
            shown, logs = f"{value:,.0f}", f"{actual:,.0f}"
        else:
            ok, shown, logs = _close(value, actual), f"{value:g}", f"{actual:.6g}"
        claims.append(Claim(f"{name}:seed_results.{seed}.{key}", f"seed {seed} {key}", shown, logs, ok))
    return claims


def _submission_claims(ctx: Context) -> list[Claim]:
    ev, sub = ctx.ev, ctx.ev.submission
    name = ev.file(sub.path) if sub.path else "submission.json"
    runs = {r.seed: r for r in ev.runs}
    claims: list[Claim] = []
    sizes = {s: b for s, b in ((r.seed, artifact_bytes(r)) for r in ev.runs) if b is not None}
    total = sub.number("bytes_total")
    if total is not None and sizes:
        vals = list(sizes.values())
        ok = any(abs(total - v) <= 1 for v in [*vals, stats.mean(vals), max(vals)])
        claims.append(Claim(f"{name}:bytes_total", "artifact bytes", f"{total:,.0f}",
                            ", ".join(f"seed {s}: {b:,}" for s, b in sorted(sizes.items())), ok))
    code = sub.number("bytes_code")
    logged_code = {h.value for r in ev.runs
                   for h in (r.train.code_bytes, r.train.code_bytes_raw, r.train.code_bytes_compressed) if h}
    if code is not None and logged_code:
        claims.append(Claim(f"{name}:bytes_code", "code bytes", f"{code:,.0f}",
                            ", ".join(f"{c:,}" for c in sorted(logged_code)), int(code) in logged_code))
    if sub.seeds is not None and ev.runs:
        logged, claimed = sorted(runs), sorted(set(sub.seeds))
        claims.append(Claim(f"{name}:seeds", "seeds", str(claimed), f"logs: {logged}", logged == claimed))
    for seed, row in sorted(sub.seed_claims.items()):
        if seed in runs:
            claims.extend(_seed_result_claims(name, seed, row, runs[seed]))
    if len(runs) == 1:
        only = next(iter(runs.values()))
        train_s = only.train.train_ms / 1000 if only.train.train_ms else None
        for key, actual in (("step_stop", only.train.steps), ("wallclock_seconds", train_s),
                            ("eval_time_seconds", eval_time(only.log).seconds)):
            value = sub.number(key)
            if value is not None and actual is not None:
                ok = value == actual if key == "step_stop" else _close(value, actual, 0.01)
                claims.append(Claim(f"{name}:{key}", key, f"{value:g}", f"{actual:g}", ok))
    return claims + _compliance_claims(ctx, name)


def _compliance_claims(ctx: Context, name: str) -> list[Claim]:
    comp = ctx.ev.submission.data.get("compliance")
    if not isinstance(comp, dict):
        return []
    runs = ctx.ev.runs
    sizes = [b for b in (artifact_bytes(r) for r in runs) if b is not None]
    trains = [r.train for r in runs if r.train.train_ms is not None]
    evals = [s for s in (eval_time(r.log).seconds for r in runs) if s is not None]
    scored = len(ctx.ev.scores())
    facts: dict[str, tuple[bool, str]] = {}
    if sizes:
        facts["artifact_under_16mb"] = (not over_size_cap(ctx, max(sizes)), f"max artifact {max(sizes):,} B")
    if trains:
        facts["train_under_600s"] = (not any(over_train_cap(ctx, log) for log in trains),
                                     f"max train {max(log.train_ms for log in trains):,.0f} ms")
    if evals:
        facts["eval_under_600s"] = (not over_eval_cap(ctx, max(evals)), f"max eval {max(evals):.1f} s")
    facts["three_seeds"] = (scored >= 3, f"{scored} scored seed(s)")
    aliases = {"training_under_600s": "train_under_600s", "artifact_under_16_mb": "artifact_under_16mb"}
    out = []
    for key, value in comp.items():
        fact = facts.get(aliases.get(str(key), str(key)))
        if value is True and fact is not None:
            out.append(Claim(f"{name}:compliance.{key}", f"compliance {key}", "true", fact[1], fact[0]))
    return out


def check_claims(ctx: Context) -> tuple[list[Claim], list[Finding]]:
    """SUB-CLAIM-001: README and submission.json numbers (BPB, seeds, sizes, times, compliance) that the
    logs contradict.

    Source: cocohearts on #2139 (three_seeds=true with one log, 2026-05-02); RULES.md SUB-007."""
    claims = _readme_claims(ctx) + _submission_claims(ctx)
    findings = []
    for c in claims:
        if c.holds:
            continue
        file, _, where = c.source.partition(":")
        if where.isdigit():  # README prose is read heuristically
            evidence = at_line(file, int(where), ctx.ev.readme.splitlines()[int(where) - 1].strip())
            confidence = 0.8
        else:
            evidence, confidence = at_key(ctx.ev, where.split(".")[0]), 1.0
        findings.append(ctx.finding("SUB-CLAIM-001", f"{c.what}: {c.source} says {c.claimed}; the logs show {c.logs}",
                                    evidence, confidence))
    return claims, findings
