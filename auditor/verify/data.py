"""Data fingerprints and BPB sanity from the logs (RULES.md §6, §8): canonical validation token counts
per tokenizer, the leaky CaseOps prep fingerprint, partial validation sets, the byte count implied
by val_loss/val_bpb, and CaseOps scored without its raw-byte sidecar."""
from __future__ import annotations

import math
import re

from auditor.verify.context import Context, at, at_metric
from auditor.verify.log_record import LogRecord
from reports.model import Finding

_VOCAB_IN_NAME = re.compile(r"(?:fineweb_|_sp|sp)(\d{3,6})(?:_bpe|\b|_)")
_FALSE = ("false", "0", "no")


def tokenizer_family(log: LogRecord) -> str | None:
    """'sp1024', 'sp8192-caseops', 'byte260', ... from the tokenizer line, dataset names and hparams."""
    hp = log.hparams
    kind, path, vocab = log.tokenizer.value if log.tokenizer is not None else (None, None, None)
    names = " ".join(str(x) for x in (path, log.dataset, hp.get("tokenizer_path"), hp.get("datasets_dir"),
                                      hp.get("data_path"), log.val_tokens.text if log.val_tokens else None) if x)
    caseops = ("caseops" in names.lower() or "lossless_caps" in names.lower()
               or hp.get("caseops_enabled", "").lower() == "true")
    if kind in ("byte", "byte_level") or "byte260" in names:
        return f"byte{vocab or (260 if 'byte260' in names else 256)}"
    m = _VOCAB_IN_NAME.search(names)
    size = m.group(1) if m else hp.get("vocab_size")
    if not size or not str(size).isdigit():
        return None
    return f"sp{size}" + ("-caseops" if caseops else "")


def check_val_tokens(ctx: Context) -> list[Finding]:
    """DATA-001 / DATA-004: the validation token count is the canonical one for the tokenizer; known
    non-canonical partitions and partial validation settings are violations.

    Source: repo data/ (first 50,000 docs); cocohearts on #2109, #2009; #1854/#2039 (10k-doc val)."""
    canonical: dict[str, list[int]] = ctx.param("DATA-001", "canonical")
    tol = float(ctx.param("DATA-001", "tolerance"))
    bad = {int(x) for x in ctx.param("DATA-004", "known_bad")}
    out: list[Finding] = []
    seen: set[tuple[str, int]] = set()
    for run in ctx.ev.runs:
        log = run.train
        fraction = log.hparams.get("val_doc_fraction")
        batches = log.hparams.get("ttt_eval_batches", "").strip()
        partial = []
        if fraction is not None and _float(fraction, 1.0) < 1.0:
            partial.append(f"val_doc_fraction {fraction}")
        if batches and batches.lower() not in ("none", "0", "[]", "''"):
            partial.append(f"ttt_eval_batches {batches}")
        if partial:
            out.append(ctx.finding("DATA-004", f"seed {run.seed}: validation restricted by " + ", ".join(partial)))
        if log.val_tokens is None:
            continue
        tokens = log.val_tokens.value
        fam = tokenizer_family(log)
        if (fam or "", tokens) in seen:
            continue
        seen.add((fam or "", tokens))
        if tokens in bad:
            out.append(ctx.finding("DATA-004", f"seed {run.seed}: {tokens:,} validation tokens is a known "
                                               f"non-canonical partition", at(log, log.val_tokens)))
            continue
        if fam is None or fam not in canonical:
            continue
        if not any(abs(tokens - c) <= tol * c for c in canonical[fam]):
            expected = " or ".join(f"{c:,}" for c in canonical[fam])
            out.append(ctx.finding("DATA-001", f"seed {run.seed}: {tokens:,} validation tokens for {fam}; "
                                               f"canonical is {expected}", at(log, log.val_tokens)))
    return out


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def check_leaky_caseops(ctx: Context) -> list[Finding]:
    """DATA-002: the leaky local CaseOps prep (1499 train shards, or a doubled datasets/datasets path
    with a shard count other than the clean 80) trains on validation documents.

    Source: Issue #2127; cocohearts on #2018 and #2130 (2026-05-02)."""
    leaky = {int(x) for x in ctx.param("DATA-002", "leaky_shards")}
    clean = int(ctx.param("DATA-002", "clean_shards"))
    out = []
    for run in ctx.ev.runs:
        log = run.train
        shards = log.train_shards.value if log.train_shards is not None else None
        paths = " ".join(log.hparams.get(k, "") for k in ("datasets_dir", "train_files", "val_files", "data_path"))
        doubled = "datasets/datasets" in paths
        if shards in leaky or (doubled and shards is not None and shards != clean):
            why = f"train_shards {shards}" + (" with a doubled datasets/datasets path" if doubled else "")
            out.append(ctx.finding("DATA-002", f"seed {run.seed}: {why} — the fingerprint of the leaky "
                                               f"local CaseOps prep", at(log, log.train_shards)))
    return out


def implied_bytes(val_loss: float, val_bpb: float, tokens: int) -> float:
    """The byte count a metric line implies: val_loss / ln 2 x tokens / val_bpb (LOG_FORMATS.md §8)."""
    return val_loss / math.log(2.0) * tokens / val_bpb


def check_implied_bytes(ctx: Context) -> list[Finding]:
    """BPB-002: val_loss, val_bpb and the validation token count imply ~151.07 M bytes.

    Source: Issue #1719 / PR #1804 (double-counted spaces, +17 %); #2071 (164.6 M transformed bytes)."""
    canonical = float(ctx.param("BPB-002", "canonical_bytes"))
    tol = float(ctx.param("BPB-002", "tolerance"))
    out = []
    for run in ctx.ev.runs:
        m, log = run.metric, run.train
        if m is None or log.val_tokens is None or not m.val_bpb > 0 or not math.isfinite(m.val_loss):
            continue
        implied = implied_bytes(m.val_loss, m.val_bpb, log.val_tokens.value)
        if abs(implied / canonical - 1.0) > tol:
            out.append(ctx.finding(
                "BPB-002", f"seed {run.seed}: {m.label} implies {implied:,.0f} validation bytes "
                           f"({(implied / canonical - 1) * 100:+.1f} % against {canonical:,.0f})",
                at_metric(run.log, m) + at(log, log.val_tokens)))
    return out


def check_caseops_sidecar(ctx: Context) -> list[Finding]:
    """BPB-003: a CaseOps tokenizer must be scored against the raw-byte sidecar.

    Source: cocohearts on #2071, #2138, #2039 (2026-05-02)."""
    out = []
    for run in ctx.ev.runs:
        log = run.train
        fam = tokenizer_family(log) or ""
        flag = log.hparams.get("caseops_enabled", "").strip().lower()
        if fam.endswith("-caseops") and flag in _FALSE and not log.byte_sidecar:
            out.append(ctx.finding("BPB-003", f"seed {run.seed}: CaseOps tokenizer with caseops_enabled "
                                              f"{log.hparams['caseops_enabled']} and no byte sidecar"))
    return out
