"""`verify_folder`: read a records folder once, run every record check, assemble the verify block."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.verify import claims, code, data, files, seeds, size, stats, timing
from auditor.verify.context import Context
from auditor.verify.evidence import Evidence, SeedRun, gather
from auditor.verify.folder import discover
from auditor.verify.run_env import env_from_evidence, run_command
from auditor.verify.significance import resolve_baseline, significance
from auditor.verify.smoke import smoke_test
from reports.model import Finding
from rules import Rules, load_rules


class VerifyInputError(ValueError):
    """The folder (or the baseline) cannot be verified at all: a usage or input error."""


@dataclass(frozen=True)
class VerifyOutcome:
    """The verifier's result: findings for the shared report, and the "verify" JSON block."""

    findings: list[Finding]
    block: dict[str, Any]
    evidence: Evidence | None = None  # what was read from the folder (a rerun reuses it)


def _seed_row(run: SeedRun, ctx: Context) -> dict[str, Any]:
    log, train, m = run.log, run.train, run.metric
    et = timing.eval_time(log)
    artifact = size.artifact_bytes(run)
    over = {"artifact_bytes": size.over_size_cap(ctx, artifact),   # time caps bind the record track only
            "train_time_s": ctx.record_track and timing.over_train_cap(ctx, train),
            "eval_time_s": ctx.record_track and timing.over_eval_cap(ctx, et.seconds)}
    counted = train.counted_code
    raw = train.raw_code
    cal = train.calibration
    return {
        "seed": run.seed,
        "log": log.name,
        "train_log": train.name if train is not log else None,
        "val_loss": m.val_loss if m else None,
        "val_bpb": m.val_bpb if m else None,
        "metric": m.label if m else None,
        "artifact_bytes": artifact,
        "code_bytes": counted.value if counted else None,
        "code_bytes_uncompressed": raw.value if raw else None,
        "train_time_s": round(train.train_ms / 1000.0, 3) if train.train_ms is not None else None,
        "eval_time_s": et.seconds,
        "eval_time_source": et.source,
        "eval_phases": [{"name": n, "seconds": s} for n, s in et.phases],
        "steps": train.steps,
        "step_avg_ms": round(train.step_avg_ms, 3) if train.step_avg_ms is not None else None,
        "calibration": None if cal is None else {
            "source": cal.value,
            "seconds": train.calibration_s.value if train.calibration_s else None,
            "self_generated_seconds": train.selfgen_s.value if train.selfgen_s else None,
            "reserve_s": train.reserve_ms / 1000.0 if train.reserve_ms is not None else None,
            "after_stop": cal.line > train.train_end_line,
        },
        "post_gptq_total_s": train.post_gptq_total_s.value if train.post_gptq_total_s else None,
        "ttt_compile_warmup_s": log.ttt_warmup_s.value if log.ttt_warmup_s else None,
        "ngram_within_beta": log.ngram_within_beta.value if log.ngram_within_beta else None,
        "world_size": train.world_size.value if train.world_size else None,
        "gpus": sorted({g.value[1] for g in train.gpus}),
        "versions": train.versions,
        "model_params": train.model_params,
        "train_shards": train.train_shards.value if train.train_shards else None,
        "val_tokens": train.val_tokens.value if train.val_tokens else None,
        "tokenizer": data.tokenizer_family(train),
        "duplicates": [d.name for d in run.duplicates],
        "over_limit": [key for key, is_over in over.items() if is_over],   # as SIZE-001, TIME-001, TIME-006 judge
    }


def _stats_block(ev: Evidence) -> dict[str, Any]:
    bpb = [r.metric.val_bpb for r in ev.runs if r.metric is not None]
    loss = [r.metric.val_loss for r in ev.runs if r.metric is not None]
    return {
        "n": len(bpb),
        "mean_bpb": stats.mean(bpb) if bpb else None,
        "std_bpb": stats.std(bpb) if bpb else None,
        "mean_loss": stats.mean(loss) if loss else None,
        "std_loss": stats.std(loss) if loss else None,
        "baseline": None, "p_one_sided": None, "delta_bpb": None, "delta_nats": None,
    }


def verify_folder(folder: Path, *, baseline: str | None = None, smoke: bool = False,
                  rules: Rules | None = None, evidence: Evidence | None = None) -> VerifyOutcome:
    """Verify one records folder; raises VerifyInputError when it cannot be read at all. `evidence`: the
    folder as already read by the caller (`gather(discover(folder, rules))`), so it is not read twice."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VerifyInputError(f"{folder}: not a directory")
    rules = rules or load_rules()
    try:
        base = resolve_baseline(baseline, rules) if baseline is not None else None
    except ValueError as exc:
        raise VerifyInputError(str(exc)) from None
    ev = evidence if evidence is not None else gather(discover(folder, rules))
    ctx = Context.build(ev, rules)
    script = code.script_code(ev, tuple(ctx.param("SIZE-002", "offline_helpers")))
    env = env_from_evidence(ev)
    runnable = script.runnable if script else ""
    findings: list[Finding] = [
        *files.check_location(ctx), *files.check_required(ctx), *files.check_names(ctx),
        *files.check_compiles(ctx, script), *files.check_requirements(ctx, script),
        *files.check_submission_schema(ctx),
        *seeds.check_unreadable(ctx), *seeds.check_seed_identity(ctx), *seeds.check_scores(ctx),
        *seeds.check_repeated_score(ctx),
        *seeds.check_claimed_scores(ctx), *seeds.check_seed_count(ctx), *seeds.check_same_config(ctx),
        *size.check_cap(ctx), *size.check_missing_size(ctx), *size.check_size_arithmetic(ctx),
        *size.check_helpers(ctx, script), *size.check_tokenizer_files(ctx),
        *code.check_compressed_code(ctx, script), *code.check_logged_source(ctx, script),
        *timing.check_train_time(ctx), *timing.check_step_forcing(ctx, env),
        *timing.check_calibration(ctx, runnable), *timing.check_eval_time(ctx),
        *timing.check_selfgen_budget(ctx), *timing.check_hardware(ctx), *timing.check_train_evidence(ctx),
        *data.check_val_tokens(ctx), *data.check_leaky_caseops(ctx), *data.check_implied_bytes(ctx),
        *data.check_caseops_sidecar(ctx), *claims.check_units(ctx),
    ]
    claim_list, claim_findings = claims.check_claims(ctx)
    findings.extend(claim_findings)
    stats_block = _stats_block(ev)
    if base is not None:
        cmp, sig_findings = significance(ctx, base)
        findings.extend(sig_findings)
        if cmp is not None:
            stats_block.update({
                "baseline": base.label, "baseline_n": cmp.baseline_n, "baseline_mean_bpb": cmp.baseline_mean_bpb,
                "p_one_sided": cmp.p_one_sided, "t": cmp.welch.t if cmp.welch else None,
                "df": cmp.welch.df if cmp.welch else None, "delta_bpb": cmp.delta_bpb,
                "delta_nats": cmp.delta_nats, "nats_unit": cmp.nats_unit,
                "p_below_readme": cmp.significant(float(rules.limit("p_value_readme"))),
                "p_below_practice": cmp.significant(float(rules.limit("p_value_practice"))),
                "margin_holds": cmp.margin_holds(float(rules.limit("margin_nats"))),
            })
    smoke_block = None
    if smoke:
        result = smoke_test(ev.layout, script, env_from_evidence(ev, include_hparams=False))
        smoke_block = result.to_json()
        findings.extend(result.findings(ctx))
    layout = ev.layout
    block: dict[str, Any] = {
        "folder": layout.name,
        "track": "record" if ctx.record_track else "non_record",
        "track_from": "path" if layout.track else "submission.json or default",
        "date": ctx.date.isoformat() if ctx.date else None,
        "files": {
            "readme": ev.file(layout.readme) or None,
            "submission": ev.file(layout.submission) or None,
            "script": ev.file(layout.script) or None,
            "requirements": ev.file(layout.requirements) or None,
            "helpers": [layout.rel(p) for p in script.helpers] if script else [],
            "wrapped_script": bool(script and script.payload is not None),
            "listing_truncated": layout.too_many_files,
        },
        "seeds": [_seed_row(r, ctx) for r in ev.runs if r.metric is not None],
        "unscored_seeds": [_seed_row(r, ctx) for r in ev.runs if r.metric is None],
        "stats": stats_block,
        "claims": [c.to_json() for c in claim_list],
        "hardware": timing.hardware(ctx).to_json(),
        "run_command": run_command(ev),
        "env": env,
        "hyperparameters": next((r.train.hparams for r in ev.runs if r.train.hparams), {}),
        "logs": [{"file": log.name, "train_log": log.is_train_log, "lines": log.lines_total,
                  "embedded_source_lines": log.lines_source, "unexplained_lines": len(log.unknown),
                  "notes": list(log.notes)} for log in ev.logs]
        + [{"file": name, "unreadable": lt.error or "binary"} for name, lt in ev.unreadable],
        "smoke": smoke_block,
    }
    return VerifyOutcome(findings=findings, block=_finite(block), evidence=ev)


def _finite(value: Any) -> Any:
    """The block with NaN/inf (hostile logs print them) replaced by None, so it stays valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
