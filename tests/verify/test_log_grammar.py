"""The log-line grammar: each pattern matches its own example first, and the parser uses it the way
LOG_FORMATS.md describes (source skipped, timestamps stripped, hyperparameter blocks scoped)."""
from __future__ import annotations

import pytest

from auditor.verify import log_grammar as g
from auditor.verify.log_parse import parse_log


@pytest.mark.parametrize("pattern", g.PATTERNS, ids=lambda p: p.name)
def test_example_is_matched_by_its_own_pattern(pattern: g.LinePattern) -> None:
    found = g.match_line(pattern.example)
    assert found is not None and found[0] is pattern


def test_pattern_names_are_unique_and_kinds_known() -> None:
    names = [p.name for p in g.PATTERNS]
    assert len(names) == len(set(names))
    assert {p.kind for p in g.PATTERNS} <= set(g.KINDS)


@pytest.mark.parametrize(("label", "role"), [
    ("final_int8_zlib_roundtrip_exact", "official"),
    ("final_int6_sliding_window_exact", "official"),
    ("legal_ttt_exact", "official"),
    ("quantized_ttt_phased", "official"),
    ("quantized_sliding_window", "official"),
    ("quantized", "diagnostic"),
    ("diagnostic quantized", "diagnostic"),
    ("DIAGNOSTIC post_ema", "diagnostic"),
    ("pre-quantization post-ema", "diagnostic"),
    ("final_temped", "diagnostic"),
    ("probe", "other"),
])
def test_metric_roles(label: str, role: str) -> None:
    assert g.metric_role(label) == role


def test_metric_class_orders_ttt_over_sliding_over_roundtrip() -> None:
    assert g.metric_class("legal_ttt_exact") > g.metric_class("final_int6_sliding_window") > g.metric_class(
        "final_int6_roundtrip")


def test_timestamped_lines_are_understood() -> None:
    rec = parse_log("1776143349.278 stopping_early: wallclock_cap train_time: 587091ms step: 4832/20000\n", "t.log")
    assert rec.stop is not None and rec.stop.value == (587091, 4832, 20000)
    assert rec.unknown == ()


def test_metric_names_inside_embedded_source_are_not_metrics() -> None:
    text = "\n".join([
        '"""A script embedded at the top of its own log."""',
        "import os",
        "import torch",
        "def main():",
        '    log0("final_int8_zlib_roundtrip_exact val_loss:1.0 val_bpb:0.5")',
        "=" * 100,
        "final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570",
    ]) + "\n"
    rec = parse_log(text, "t.log")
    assert [m.val_bpb for m in rec.metrics] == [1.2243657]
    assert rec.lines_source == 5 and rec.source is not None and rec.source_line == 1


def test_source_after_marker_and_hparam_block_scope() -> None:
    text = "\n".join([
        "=" * 100, "Hyperparameters:", "  seed: 42", "  gptq_reserve_seconds: 0.5", "=" * 100,
        "Source code:", "=" * 100, "import os", "import torch", "def main():", "    pass",
        "=" * 100, "  seed: 99", "val_tokens: 47851520",
    ]) + "\n"
    rec = parse_log(text, "t.log")
    assert rec.seed is not None and rec.seed.value == 42
    assert rec.hparams == {"seed": "42", "gptq_reserve_seconds": "0.5"}
    assert rec.reserve_ms == 500.0
    assert rec.val_tokens is not None and rec.val_tokens.value == 47851520
    assert rec.source is not None and rec.source.startswith("import os")
