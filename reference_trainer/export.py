"""After the loop: averaged weights, GPTQ calibration, the compressed artifact, and the scored evaluations.

Order (family-B records, e.g. PR #549 / #1019): apply EMA (or SWA) weights -> diagnostic pre-quant BPB ->
save the raw checkpoint -> calibrate (train data inside the budget, or self-generated) -> quantize ->
prune to the byte target -> zstd-22 artifact -> reload the artifact from disk into a fresh model ->
roundtrip BPB -> sliding-window BPB (the official score) -> optional legal TTT BPB (then official).
Every score comes from the artifact as loaded, never from the in-memory training model.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import torch

from reference_trainer.artifact import (deserialize, dequantize_state, entropy_report, prune_to_target,
                                        quant_plan, quantize_state)
from reference_trainer.calibrate import batched, collect_hessians, generate_samples
from reference_trainer.config import TrainConfig, as_dict
from reference_trainer.data import DistributedTokenLoader
from reference_trainer.evaluate import ByteTables, EvalResult, evaluate
from reference_trainer.loglines import RunLog
from reference_trainer.model import GPT, GPTConfig
from reference_trainer.optim import WeightAverage
from reference_trainer.runtime import Runtime, barrier
from reference_trainer.ttt import ttt_evaluate

ARTIFACT_NAME = "final_model.int{bits}.ptz"


def calibrate(cfg: TrainConfig, rt: Runtime, model: GPT, loader: DistributedTokenLoader, train_ms: float,
              log: RunLog) -> dict[str, torch.Tensor] | None:
    """Hessians for GPTQ, logging the time it took and the training budget it counts against."""
    if cfg.quant_method != "gptq":
        return None
    t0 = time.perf_counter()
    if cfg.gptq_calib == "train":
        log.emit("gptq_collecting")
        per_rank = max(cfg.calib_tokens // rt.world_size // cfg.train_seq_len, 1) * cfg.train_seq_len
        x, _ = loader.next_batch(per_rank * rt.world_size, cfg.train_seq_len, 1)
        ids = x
    else:
        log.emit("gptq_generating", seqs=cfg.selfgen_seqs, length=cfg.selfgen_len, temp=cfg.selfgen_temperature)
        mine = max(cfg.selfgen_seqs // rt.world_size, 1)
        ids = generate_samples(model, mine, cfg.selfgen_len, cfg.selfgen_temperature, rt.device,
                               seed=cfg.seed * 1000 + rt.rank)
        log.emit("gptq_generated", seqs=mine * rt.world_size, seconds=time.perf_counter() - t0)
    hessians = collect_hessians(model, batched(ids, cfg.eval_batch_seqs), rt.device)
    seconds = time.perf_counter() - t0
    log.emit("gptq_collected", n=len(hessians), seconds=seconds)
    # train-data calibration must fit the budget (TIME-004); self-generated may exceed it (TIME-005)
    elapsed = train_ms / 1000.0 + seconds
    log.emit("post_gptq", elapsed=elapsed, budget=cfg.max_wallclock_seconds)
    if cfg.gptq_calib == "train" and 0 < cfg.max_wallclock_seconds < elapsed:
        log.emit("over_budget", elapsed=elapsed, budget=cfg.max_wallclock_seconds)
    return hessians


def load_artifact(path: Path, device: torch.device) -> GPT:
    """A fresh model with the artifact's dequantized weights (the only thing evaluation may use)."""
    tensors, meta = deserialize(path.read_bytes())
    model = GPT(GPTConfig(**meta["gpt_config"])).to(device)
    model.load_state_dict({k: v.to(device) for k, v in dequantize_state(tensors).items()})
    return model.eval()


def _score(log: RunLog, name: str, result: EvalResult, stream: int) -> None:
    log.emit("eval_accounting", name=name, tokens=result.tokens, bytes=result.bytes, stream=stream)


def finish(cfg: TrainConfig, gpt_cfg: GPTConfig, rt: Runtime, base: GPT, averages: dict[str, WeightAverage | None],
           train_ms: float, loader: DistributedTokenLoader, val_tokens: torch.Tensor, tables: ByteTables,
           logits_fn: Callable[[torch.Tensor], torch.Tensor], log: RunLog, code: str, out_dir: Path,
           compiled: bool = False) -> dict[str, object]:
    """Everything after the training loop (see the module docstring); returns the scores and sizes."""
    # -- final weights
    average = averages.get(cfg.final_weights)
    kind = cfg.final_weights if average is not None else "raw"
    if average is not None:
        average.copy_to(base)
    log.emit("weights_applied", kind=kind, upper=kind.upper())
    base.eval()
    t0 = time.perf_counter()
    diag = evaluate(logits_fn, val_tokens, tables, cfg.eval_seq_len, cfg.eval_seq_len, rt.device,
                    cfg.eval_batch_seqs, rt.rank, rt.world_size)
    log.emit("diagnostic", kind=kind, loss=diag.loss, bpb=diag.bpb, ms=1000.0 * (time.perf_counter() - t0))
    code_bytes = len(code.encode("utf-8"))
    if rt.master:
        raw_path = out_dir / "final_model.pt"
        torch.save({"config": as_dict(cfg), "gpt_config": dataclasses.asdict(gpt_cfg),
                    "state_dict": base.state_dict()}, raw_path)
        log.emit("raw_model", bytes=raw_path.stat().st_size)
        log.emit("code_size", bytes=code_bytes)

    # -- calibration, quantization, artifact
    hessians = calibrate(cfg, rt, base, loader, train_ms, log)
    tag = f"int{cfg.quant_bits}+zstd"
    artifact_path = out_dir / ARTIFACT_NAME.format(bits=cfg.quant_bits)
    pruned = 0
    if rt.master:                          # one rank builds the artifact; the others wait, then load it
        t0 = time.perf_counter()
        state = {k: v.detach().float().cpu() for k, v in base.state_dict().items()}
        plan = quant_plan(base, cfg.quant_bits, cfg.embed_bits)
        tensors = quantize_state(state, plan, cfg.quant_method, hessians, cfg.gptq_block_size, cfg.gptq_damp,
                                 device=rt.device)
        log.emit("gptq_quantized", seconds=time.perf_counter() - t0)
        t0 = time.perf_counter()
        meta = {"gpt_config": dataclasses.asdict(gpt_cfg)}
        target = cfg.artifact_target_bytes - code_bytes
        tensors, pruned, candidates, blob = prune_to_target(tensors, state, meta, target, cfg.zstd_level,
                                                            cfg.prune_search_level)
        if pruned:
            log.emit("prune_done", pruned=pruned, candidates=candidates, target=target)
        elif len(blob) <= target:
            log.emit("prune_fits")
        if len(blob) > target:
            log.emit("prune_short", bytes=len(blob), target=target)
        log.emit("serialize_time", seconds=time.perf_counter() - t0)
        artifact_path.write_bytes(blob)
        log.emit("model_size", tag=tag, bytes=len(blob))
        log.emit("total_size", tag=tag, bytes=len(blob) + code_bytes)
        rep = entropy_report(tensors, len(blob))
        log.emit("quant_entropy", symbols=rep.symbols, entropy=rep.entropy_bytes, side=rep.side_bytes,
                 model=rep.model_bytes, overhead=rep.overhead)
    barrier(rt)

    # -- scores of the artifact as loaded from disk
    stream = val_tokens.numel() - 1
    qmodel = load_artifact(artifact_path, rt.device)
    qlogits = torch.compile(qmodel.forward_logits, dynamic=False) if compiled else qmodel.forward_logits
    t0 = time.perf_counter()
    rt_res = evaluate(qlogits, val_tokens, tables, cfg.eval_seq_len, cfg.eval_seq_len, rt.device,
                      cfg.eval_batch_seqs, rt.rank, rt.world_size)
    ms = 1000.0 * (time.perf_counter() - t0)
    log.emit("roundtrip", bits=cfg.quant_bits, loss=rt_res.loss, bpb=rt_res.bpb, ms=ms)
    log.emit("roundtrip_exact", bits=cfg.quant_bits, loss=rt_res.loss, bpb=rt_res.bpb)
    _score(log, "roundtrip", rt_res, stream)
    t0 = time.perf_counter()
    sw = evaluate(qlogits, val_tokens, tables, cfg.eval_seq_len, cfg.eval_stride, rt.device,
                  cfg.eval_batch_seqs, rt.rank, rt.world_size)
    ms = 1000.0 * (time.perf_counter() - t0)
    log.emit("sliding", bits=cfg.quant_bits, loss=sw.loss, bpb=sw.bpb, stride=cfg.eval_stride, ms=ms)
    log.emit("sliding_exact", bits=cfg.quant_bits, loss=sw.loss, bpb=sw.bpb)
    _score(log, "sliding_window", sw, stream)
    summary: dict[str, object] = {
        "pre_quant_bpb": diag.bpb, "roundtrip_bpb": rt_res.bpb, "sliding_bpb": sw.bpb, "final_bpb": sw.bpb,
        "artifact_path": str(artifact_path), "artifact_bytes": artifact_path.stat().st_size,
        "code_bytes": code_bytes,
        "pruned": pruned,
    }
    if cfg.ttt_enabled:
        tmodel = load_artifact(artifact_path, rt.device)
        t0 = time.perf_counter()
        ttt = ttt_evaluate(tmodel, val_tokens, tables, cfg, rt.device, rt.rank, rt.world_size,
                           log=lambda kind, **v: log.emit(kind, **v))
        ms = 1000.0 * (time.perf_counter() - t0)
        log.emit("legal_ttt", loss=ttt.loss, bpb=ttt.bpb, ms=ms)
        log.emit("legal_ttt_exact", loss=ttt.loss, bpb=ttt.bpb)
        _score(log, "legal_ttt", ttt, stream)
        summary.update(ttt_bpb=ttt.bpb, final_bpb=ttt.bpb)
    return summary
