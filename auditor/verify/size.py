"""Artifact size checks (RULES.md §1): the decimal cap per seed, helper code, tokenizer files, and the
arithmetic of the logged size lines."""
from __future__ import annotations

from auditor.verify.code import ScriptCode
from auditor.verify.context import Context, at, at_end, at_line
from auditor.verify.evidence import SeedRun
from auditor.verify.log_record import Artifact, Hit, LogRecord
from reports.model import Finding


def artifact(run: SeedRun) -> tuple[LogRecord, Hit[Artifact]] | None:
    """The seed's artifact size line: from the scoring log, else from its training log."""
    for log in (run.log, run.train):
        if log.artifact is not None:
            return log, log.artifact
    return None


def artifact_bytes(run: SeedRun) -> int | None:
    found = artifact(run)
    return found[1].value.bytes if found else None


def _artifacts(ctx: Context) -> list[tuple[SeedRun, LogRecord, Hit[Artifact]]]:
    """(seed run, log, artifact size hit) of every seed whose log prints its artifact size."""
    return [(run, *found) for run in ctx.ev.runs if (found := artifact(run)) is not None]


def check_cap(ctx: Context) -> list[Finding]:
    """SIZE-001: every seed's artifact (compressed model + counted code) is at most 16,000,000 bytes.

    Source: README FAQ (2026-03-18); regina-openai on #1835; cocohearts on #1959. The worst seed counts."""
    cap = int(ctx.limit("artifact_bytes_max"))
    over = []
    for run, log, hit in _artifacts(ctx):
        size, _, exact = hit.value
        if over_size_cap(ctx, size):
            approx = "" if exact else " (from a size printed in MB)"
            over.append((size, run.seed, log, hit, approx))
    if not over:
        return []
    over.sort(key=lambda t: -t[0])
    worst = over[0]
    listing = ", ".join(f"seed {seed}: {size:,} B{approx}" for size, seed, _, _, approx in over)
    evidence = tuple(e for _, _, log, hit, _ in over for e in at(log, hit))
    return [ctx.finding(
        "SIZE-001",
        f"{len(over)} of {len(ctx.ev.runs)} seed(s) over the {cap:,}-byte cap (worst {worst[0]:,} B, "
        f"{worst[0] - cap:,} over): {listing}",
        evidence)]


def over_size_cap(ctx: Context, size: int | None) -> bool:
    """SIZE-001's test: an artifact over the decimal 16,000,000-byte cap."""
    return size is not None and size > int(ctx.limit("artifact_bytes_max"))


def check_missing_size(ctx: Context) -> list[Finding]:
    """SIZE-006: every seed must show its artifact size, since the worst seed is what counts.

    Source: RULES.md SIZE-006 (cocohearts counts the worst case)."""
    missing = [run for run in ctx.ev.runs if artifact(run) is None]
    if not missing:
        return []
    return [ctx.finding(
        "SIZE-006",
        "no compressed artifact size line (`Total submission size <tag>: N bytes`) for seed(s) "
        + ", ".join(f"{r.seed} ({r.log.name})" for r in missing),
        tuple(e for r in missing for e in at_end(r.log, "no artifact size line")))]


def check_size_arithmetic(ctx: Context) -> list[Finding]:
    """LOG-002: a tagged total must equal the compressed model plus the counted code.

    Source: LOG_FORMATS.md §5 (the identity holds on every merged log that prints both parts)."""
    out = []
    for run, log, hit in _artifacts(ctx):
        size, tag, exact = hit.value
        models = log.model_bytes
        model = models.get(tag) if tag in models else (list(models.values())[-1] if models else None)
        code_hit = log.counted_code
        if not exact or model is None or code_hit is None or "+" not in str(tag):
            continue
        code = code_hit.value
        if model + code != size:
            out.append(ctx.finding(
                "LOG-002",
                f"seed {run.seed}: total {size:,} B is not model {model:,} B + code {code:,} B "
                f"(= {model + code:,} B)",
                at(log, hit)))
    return out


def check_helpers(ctx: Context, code: ScriptCode | None) -> list[Finding]:
    """SIZE-002: code the script loads at run time from other files must be counted.

    Source: README FAQ (all counted code in train_gpt.py); precedent #1514 (helpers uncounted, merged)."""
    if code is None or not code.helpers:
        return []
    helper_bytes = sum(p.stat().st_size for p in code.helpers)
    script_bytes = 0 if code.is_stub else len(code.runnable.encode("utf-8"))  # a payload runs, not its wrapper
    logged = [hit.value for r in ctx.ev.runs for hit in [r.train.raw_code] if hit]
    if logged and max(logged) >= 0.98 * (script_bytes + helper_bytes):
        return []
    cap = int(ctx.limit("artifact_bytes_max"))
    sizes = [b for b in (artifact_bytes(r) for r in ctx.ev.runs) if b is not None]
    names = ", ".join(f"{ctx.ev.layout.rel(p)} ({p.stat().st_size:,} B)" for p in code.helpers)
    verdict = ""
    if sizes:
        total = max(sizes) + helper_bytes
        verdict = (f"; counted, the worst seed would be {total:,} B"
                   + (f", over the {cap:,}-byte cap" if total > cap else ", still under the cap"))
    return [ctx.finding(
        "SIZE-002",
        f"{code.path.name} loads {names} at run time; the logged code size does not include them{verdict}",
        at_line(ctx.ev.layout.rel(code.path), 1, code.text.split("\n", 1)[0]))]


def check_tokenizer_files(ctx: Context) -> list[Finding]:
    """SIZE-004 (info): tokenizer files shipped in the folder are not counted by any merged record.

    Source: Issue #43 (no ruling); practice of every merged record."""
    files = ctx.ev.layout.tokenizer_files
    if not files:
        return []
    names = ", ".join(f"{ctx.ev.layout.rel(p)} ({p.stat().st_size:,} B)" for p in files)
    return [ctx.finding("SIZE-004", f"tokenizer file(s) not counted in the artifact: {names}")]
