"""The log grammar: every template renders into a line its own regex parses, and nothing else does."""

from __future__ import annotations

import pytest

from reference_trainer.loglines import GRAMMAR, RunLog, parse, render

SAMPLES: dict[str, dict[str, object]] = {
    "separator": {},
    "python": {"version": "3.11.7 (main) [GCC 12]"},
    "pytorch": {"version": "2.13.0+cpu"},
    "device": {"device": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8},
    "tokenizer": {"path": "./data/tokenizers/fineweb_1024_bpe.model"},
    "train_loader": {"dataset": "fineweb10B_sp1024", "shards": 80},
    "val_loader": {"pattern": "./data/fineweb_val_*.bin", "tokens": 62021632},
    "model_params": {"n": 26994268},
    "world_size": {"world_size": 8, "grad_accum": 1},
    "batch_config": {"tokens": 786432, "seq_len": 2048, "iterations": 20000, "warmup": 20, "cap": 600.0},
    "seed": {"seed": 42},
    "gptq_reserve": {"seconds": 10.0, "ms": 590000.0},
    "warmup_step": {"i": 20, "n": 20},
    "val_step": {"step": 0, "iterations": 20000, "loss": 6.93, "bpb": 4.1, "ms": 0.0, "avg": 0.0},
    "train_step": {"step": 2, "iterations": 20000, "loss": 8.5278, "ms": 167.0, "avg": 83.47, "tps": 12562054},
    "swa_start": {"step": 6500},
    "late_qat": {"step": 6664, "scale": 0.1499},
    "stop": {"ms": 600038.0, "step": 13780, "iterations": 20000},
    "peak_memory": {"allocated": 41717, "reserved": 47140},
    "weights_applied": {"kind": "ema", "upper": "EMA"},
    "diagnostic": {"kind": "ema", "loss": 1.9208, "bpb": 1.1376, "ms": 1977.0},
    "gptq_collecting": {},
    "gptq_generating": {"seqs": 64, "length": 2048, "temp": 0.8},
    "gptq_generated": {"seqs": 64, "seconds": 198.3},
    "gptq_collected": {"n": 67, "seconds": 4.7},
    "post_gptq": {"elapsed": 858.2, "budget": 600.0},
    "gptq_quantized": {"seconds": 12.5},
    "serialize_time": {"seconds": 99.9},
    "prune_fits": {},
    "prune_done": {"pruned": 1234, "candidates": 999999, "target": 15950000},
    "prune_short": {"bytes": 16012345, "target": 15950000},
    "over_budget": {"elapsed": 612.4, "budget": 600.0},
    "raw_model": {"bytes": 67224983},
    "code_size": {"bytes": 47642},
    "model_size": {"tag": "int6+zstd", "bytes": 15815847},
    "total_size": {"tag": "int6+zstd", "bytes": 15863489},
    "quant_entropy": {"symbols": 26000000, "entropy": 15000000, "side": 90000, "model": 15815847, "overhead": 1.04},
    "roundtrip": {"bits": 6, "loss": 1.935, "bpb": 1.146, "ms": 1401.0},
    "roundtrip_exact": {"bits": 6, "loss": 1.93502821, "bpb": 1.1460327},
    "sliding": {"bits": 6, "loss": 1.8956, "bpb": 1.1227, "stride": 64, "ms": 97749.0},
    "sliding_exact": {"bits": 6, "loss": 1.89556781, "bpb": 1.122665},
    "eval_accounting": {"name": "sliding_window", "tokens": 62021631, "bytes": 151074309, "stream": 62021631},
    "ttt_start": {"chunks": 1893, "chunk_tokens": 32768, "windows": 969088, "stride": 64, "lr": 0.002, "epochs": 3,
                  "freeze": 0},
    "ttt_chunk": {"i": 1893, "n": 1893, "bpb": 1.122151, "seconds": 407.5},
    "ttt_done": {"loss": 1.891102, "bpb": 1.12002, "seconds": 407.5},
    "legal_ttt": {"loss": 1.8911, "bpb": 1.12, "ms": 408049.0},
    "legal_ttt_exact": {"loss": 1.89110239, "bpb": 1.12002032},
}

# Lines from real record logs (shared/LOG_FORMATS.md) that our rendering must reproduce exactly.
RECORD_LINES = {
    "train_step": "step:2/20000 train_loss:8.5278 train_time:167ms step_avg:83.47ms tok/s:12562054",
    "stop": "stopping_early: wallclock_cap train_time:600038ms step:13780/20000",
    "late_qat": "late_qat:enabled step:6664 scale:0.1499",
    "sliding": "final_int6_sliding_window val_loss:1.8956 val_bpb:1.1227 stride:64 eval_time:97749ms",
    "legal_ttt_exact": "legal_ttt_exact val_loss:1.89110239 val_bpb:1.12002032",
    "gptq_collected": "GPTQ:collected 67 Hessians in 4.7s",
    "ttt_start": "ttt_sliding:start chunks=1893 chunk_tokens=32768 total_windows=969088 stride=64 "
                 "ttt_lr=0.002 ttt_epochs=3 freeze_blocks=0",
}


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(GRAMMAR)


@pytest.mark.parametrize("kind", sorted(GRAMMAR))
def test_render_then_parse_recovers_the_kind(kind: str) -> None:
    line = render(kind, **SAMPLES[kind])
    parsed = parse(line)
    assert parsed is not None and parsed[0] == kind


@pytest.mark.parametrize("kind", sorted(RECORD_LINES))
def test_rendering_reproduces_record_lines(kind: str) -> None:
    assert render(kind, **SAMPLES[kind]) == RECORD_LINES[kind]


def test_a_line_that_breaks_its_grammar_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        render("train_step", step=1, iterations=10, loss=float("nan"), ms=1.0, avg=1.0, tps=1)


def test_runlog_writes_file_and_echoes(tmp_path) -> None:
    echoed: list[str] = []
    log = RunLog(tmp_path / "x.log", echo=echoed.append)
    log.raw("source line")
    log.emit("seed", seed=3)
    log.emit("code_size", console=False, bytes=10)
    assert (tmp_path / "x.log").read_text().splitlines() == ["source line", "seed:3", "Code size: 10 bytes"]
    assert echoed == ["seed:3"]
