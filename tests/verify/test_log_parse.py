"""Parsing facts out of logs: seeds, stop, sizes, calibration, read caps and binary input."""
from __future__ import annotations

from pathlib import Path

import pytest

from auditor.verify.log_parse import load_log, parse_log, read_log
from tests.verify.conftest import CLEAN, PHASED, RECORD


@pytest.mark.parametrize(("name", "seed"), [
    ("train_seed42.log", 42), ("logs/train0.txt", 0), ("ternary_log_7.txt", 7), ("run_s1337.txt", 1337),
    ("log_10mins_seed-42.txt", 42), ("log_100k_steps.txt", None), ("train.log", None),
])
def test_seed_from_file_name(name: str, seed: int | None) -> None:
    assert parse_log("", name).seed_from_name == seed


def test_family_ab_log_facts() -> None:
    rec, _ = load_log(CLEAN / "train_seed1.log", "train_seed1.log")
    assert rec is not None
    assert rec.seed is not None and rec.seed.value == 1
    assert rec.train_ms == 600061 and rec.steps == 7100 and rec.step_avg_ms == 84.5
    assert rec.artifact is not None and rec.artifact.value == (15714832, "int6+zstd", True)
    assert rec.code_bytes is not None and rec.code_bytes.value == 2487
    assert rec.world_size is not None and rec.world_size.value == 8
    assert [m.label for m in rec.official_metrics()][-1] == "final_int6_sliding_window_exact"
    assert rec.unknown == ()


def test_family_d_log_facts() -> None:
    rec, _ = load_log(PHASED / "train_seed11.log", "train_seed11.log")
    assert rec is not None
    assert rec.steps == 4921 and rec.step_avg_ms == pytest.approx(592041 / 4921)
    assert rec.reserve_ms == 8000.0 and rec.calibration is not None and rec.calibration.value == "train"
    assert rec.calibration_s is not None and rec.calibration_s.value == 3.8
    assert rec.code_bytes_compressed is not None and rec.code_bytes_compressed.value == 1460
    assert rec.total_eval_s is not None and rec.total_eval_s.value == 510.1
    assert rec.hparams["caseops_enabled"] == "True"
    assert rec.unknown == ()


def test_ambiguous_calibration_then_hessians_is_training_data() -> None:
    rec, _ = load_log(RECORD / "2026-03-24_calibration_after_clock" / "train_seed7.log", "x.log")
    assert rec is not None and rec.calibration is not None and rec.calibration.value == "train"
    assert rec.calibration.line > rec.train_end_line


def test_untagged_total_counts_when_it_adds_a_compressed_model() -> None:
    text = ("Code size: 80288 bytes\nSerialized model rdquant+zstd: 16558180 bytes\n"
            "Total submission size: 16638468 bytes\n")
    rec = parse_log(text, "t.log")
    assert rec.artifact is not None and rec.artifact.value == (16638468, "rdquant+zstd", True)
    raw = parse_log("Code size: 47642 bytes\nTotal submission size: 67272625 bytes\n", "t.log")
    assert raw.artifact is None


def test_read_cap_keeps_head_and_tail(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("seed:5\n" + "noise line\n" * 5000 + "final_int8_zlib_roundtrip_exact val_loss:2.0 val_bpb:1.2\n")
    lt = read_log(log, cap=4096)
    assert lt.truncated and not lt.binary
    rec, _ = load_log(log, "big.log", cap=4096)
    assert rec is not None and rec.seed is not None and rec.official_metrics()[0].val_bpb == 1.2
    assert rec.notes and "first and last" in rec.notes[0]


def test_binary_and_unreadable_logs(tmp_path: Path) -> None:
    (tmp_path / "bin.log").write_bytes(b"\x00\xff" * 100)
    rec, lt = load_log(tmp_path / "bin.log", "bin.log")
    assert rec is None and lt.binary
    rec, lt = load_log(tmp_path / "missing.log", "missing.log")
    assert rec is None and lt.error


@pytest.mark.parametrize(("line", "reserve_ms"), [
    ("gptq:reserving 8.0s, effective=592000ms", 8000.0),
    ("gptq:reserving 0s, effective=599500ms", 500.0),          # a rounded half second
    ("gptq:reserving 12s, effective=588000ms", 12000.0),
])
def test_gptq_reserve_is_read_exactly(line: str, reserve_ms: float) -> None:
    log = parse_log(f"max_wallclock_seconds:600.000\n{line}\n", "train_seed1.log")
    assert log.reserve_ms == reserve_ms
