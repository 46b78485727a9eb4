"""One training run: setup, compile warm-up, the wallclock-capped loop, then `export.finish`.

Launch (the CLI relaunches itself under torchrun when --nproc > 1):
    pgolf-train run --data DATA --preset record --seed 42 --nproc 8 --out runs/seed42
    torchrun --standalone --nproc_per_node 8 -m reference_trainer.cli run --data DATA --preset record --out runs/seed42

Timing follows the baseline train_gpt.py (RULES TIME-001/003): compile warm-up steps run before the clock
and are undone (weights, optimizer state and data order restored); periodic validation pauses the clock;
the cap is checked after each step, so a capped run stops within one step of it. When GPTQ calibrates
on training data, `gptq_reserve_seconds` is taken off the cap so loop + calibration fit the budget
(TIME-004); export.py logs the sum.
"""

from __future__ import annotations

import copy
import platform
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import sentencepiece as spm
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from reference_trainer.config import TrainConfig, aligned_block, hyperparameter_lines
from reference_trainer.console import Console
from reference_trainer.data import DistributedTokenLoader, load_tokens, shard_files
from reference_trainer.evaluate import ByteTables, build_byte_tables, evaluate
from reference_trainer.export import finish
from reference_trainer.loglines import RunLog
from reference_trainer.model import GPT, GPTConfig, fa3_available
from reference_trainer.optim import (WeightAverage, build_optimizers, lr_scale, muon_momentum_at,
                                     set_schedule)
from reference_trainer.runtime import Runtime, autocast_for, peak_memory_mib, setup_runtime, sync

MODULE_ORDER = ("config", "loglines", "runtime", "data", "quant", "model", "optim", "evaluate", "calibrate",
                "artifact", "ttt", "console", "export", "train", "cli")


def source_text() -> str:
    """The code this run executes: the package modules in reading order (a packed train_gpt.py: itself)."""
    here = Path(__file__).resolve().parent
    files = [here / f"{name}.py" for name in MODULE_ORDER]
    if all(f.is_file() for f in files):
        texts = [f.read_text(encoding="utf-8") for f in files]
        return texts[0] + "".join(f"# ---- reference_trainer/{f.name} ----\n{t}" for f, t in zip(files[1:], texts[1:]))
    return Path(sys.argv[0]).read_text(encoding="utf-8")


def device_description(device: torch.device) -> tuple[str, int]:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device), torch.cuda.device_count()
    return platform.processor() or platform.machine() or "cpu", 1


def write_header(log: RunLog, console: Console, cfg: TrainConfig, code: str, rt: Runtime) -> None:
    log.raw(code)
    log.emit("separator", console=False)
    log.emit("python", version=sys.version.replace("\n", " "), console=False)
    log.emit("pytorch", version=torch.__version__, console=False)
    name, count = device_description(rt.device)
    log.emit("device", device=rt.device.type, name=name, count=count, console=False)
    log.emit("separator", console=False)
    for line in hyperparameter_lines(cfg):
        log.raw(line)
    console.block("Hyperparameters", aligned_block(cfg))


def use_compile(cfg: TrainConfig, device: torch.device) -> bool:
    return cfg.use_compile == "on" or (cfg.use_compile == "auto" and device.type == "cuda")


def attention_backend(cfg: TrainConfig, device: torch.device) -> str:
    available = fa3_available() and device.type == "cuda"
    if cfg.attention == "fa3" and not available:
        raise RuntimeError("attention=fa3 requested but flash_attn_interface is not importable on this device")
    return "fa3" if cfg.attention in ("fa3", "auto") and available else "sdpa"


@dataclass
class LoopResult:
    steps: int
    train_ms: float
    ema: WeightAverage | None
    swa: WeightAverage | None
    first_loss: float
    last_loss: float


def mean_across_ranks(value: torch.Tensor, rt: Runtime) -> float:
    if rt.distributed and rt.world_size > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= rt.world_size
    return float(value.item())


def train_step(ddp_model: nn.Module, base: GPT, optimizers: list, loader: DistributedTokenLoader,
               cfg: TrainConfig, grad_accum: int, rt: Runtime) -> torch.Tensor:
    """One optimizer step over grad_accum micro-batches; returns this rank's mean loss (detached)."""
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    total = torch.zeros((), device=rt.device)
    for micro in range(grad_accum):
        x, y = loader.next_batch(cfg.train_batch_tokens, cfg.train_seq_len, grad_accum)
        quiet = rt.distributed and micro < grad_accum - 1   # all-reduce gradients on the last micro-batch only
        with ddp_model.no_sync() if quiet else nullcontext():
            with autocast_for(rt.device):
                loss = ddp_model(x, y)
            (loss / grad_accum).backward()
        total += loss.detach()
    if cfg.grad_clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(base.parameters(), cfg.grad_clip_norm)
    for opt in optimizers:
        opt.step()
    return total / grad_accum


def compile_warmup(ddp_model: nn.Module, base: GPT, optimizers: list, loader: DistributedTokenLoader,
                   cfg: TrainConfig, grad_accum: int, rt: Runtime, log: RunLog) -> None:
    """Prime compiled kernels with real steps, then restore weights, optimizer state and data order."""
    if cfg.compile_warmup_steps <= 0:
        return
    saved_model = copy.deepcopy(base.state_dict())
    saved_opts = [copy.deepcopy(opt.state_dict()) for opt in optimizers]
    for i in range(cfg.compile_warmup_steps):
        train_step(ddp_model, base, optimizers, loader, cfg, grad_accum, rt)
        log.emit("warmup_step", i=i + 1, n=cfg.compile_warmup_steps)
    base.load_state_dict(saved_model)
    for opt, state in zip(optimizers, saved_opts):
        opt.load_state_dict(state)
    loader.reset()


def train_loop(cfg: TrainConfig, rt: Runtime, base: GPT, ddp_model: nn.Module, optimizers: list,
               loader: DistributedTokenLoader, grad_accum: int, cap_ms: float | None, val_tokens: torch.Tensor,
               tables: ByteTables, logits_fn: Callable[[torch.Tensor], torch.Tensor], log: RunLog,
               console: Console) -> LoopResult:
    """The flat training loop: validate, schedule, step, average, log, check the cap."""
    ema = WeightAverage(base, cfg.ema_decay) if cfg.ema_decay > 0 else None
    swa: WeightAverage | None = None
    train_ms, step, stop_after, qat_on = 0.0, 0, None, False
    first_loss = last_loss = float("nan")
    console.start(cfg.iterations)
    sync(rt.device)
    t0 = time.perf_counter()
    while True:
        last = step == cfg.iterations or (stop_after is not None and step >= stop_after)
        if last or (cfg.val_loss_every > 0 and step % cfg.val_loss_every == 0):
            sync(rt.device)
            train_ms += 1000.0 * (time.perf_counter() - t0)
            base.eval()
            res = evaluate(logits_fn, val_tokens, tables, cfg.eval_seq_len, cfg.eval_seq_len, rt.device,
                           cfg.eval_batch_seqs, rt.rank, rt.world_size)
            base.train()
            log.emit("val_step", step=step, iterations=cfg.iterations, loss=res.loss, bpb=res.bpb,
                     ms=train_ms, avg=train_ms / max(step, 1))
            sync(rt.device)
            t0 = time.perf_counter()
        if last:
            if stop_after is not None and step < cfg.iterations:
                log.emit("stop", ms=train_ms, step=step, iterations=cfg.iterations)
            break
        elapsed = train_ms + 1000.0 * (time.perf_counter() - t0)
        scale = lr_scale(step, elapsed, cfg, cap_ms)
        if cfg.late_qat_threshold > 0 and not qat_on and scale < cfg.late_qat_threshold:
            base.set_qat(True)               # tensor flag: visible to a compiled graph
            qat_on = True
            log.emit("late_qat", step=step, scale=scale)
        set_schedule(optimizers, scale, muon_momentum_at(step, cfg))
        loss = train_step(ddp_model, base, optimizers, loader, cfg, grad_accum, rt)
        step += 1
        if ema is not None:
            ema.update(base)
        if cfg.swa_every > 0 and scale < cfg.swa_threshold and step % cfg.swa_every == 0:
            if swa is None:
                swa = WeightAverage(base, None)
                log.emit("swa_start", step=step)
            swa.update(base)
        sync(rt.device)                      # the cap is checked on finished GPU work, not queued work
        approx_ms = train_ms + 1000.0 * (time.perf_counter() - t0)
        if cfg.train_log_every > 0 and (step <= 10 or step % cfg.train_log_every == 0 or stop_after is not None):
            last_loss = mean_across_ranks(loss, rt)
            first_loss = last_loss if step == 1 else first_loss
            log.emit("train_step", step=step, iterations=cfg.iterations, loss=last_loss, ms=approx_ms,
                     avg=approx_ms / step, tps=step * cfg.train_batch_tokens / max(approx_ms / 1000.0, 1e-9))
        console.advance(step, f"loss {last_loss:.4f}  {approx_ms / step:.1f} ms/step")
        reached = cap_ms is not None and approx_ms >= cap_ms
        if rt.distributed and cap_ms is not None:
            flag = torch.tensor(int(reached), device=rt.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            reached = bool(flag.item())
        if stop_after is None and reached:
            stop_after = step
    console.stop()
    base.set_qat(False)
    return LoopResult(step, train_ms, ema, swa, first_loss, last_loss)


def run(cfg: TrainConfig, out_dir: Path, console: Console | None = None) -> dict[str, object]:
    """Train, export and score one seed; returns a summary (rank 0's view)."""
    rt = setup_runtime()
    console = console if console is not None and rt.master else Console(enabled=False)
    data_dir = Path(cfg.data_dir)
    tokenizer_path = Path(cfg.tokenizer_path or data_dir / "tokenizer.model")
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    if cfg.vocab_size == 0:
        cfg = replace(cfg, vocab_size=int(sp.vocab_size()))
    if cfg.vocab_size != int(sp.vocab_size()):
        raise ValueError(f"vocab_size={cfg.vocab_size} but the tokenizer has {sp.vocab_size()} pieces")
    cfg = replace(cfg, tokenizer_path=str(tokenizer_path), run_id=cfg.run_id or f"train_seed{cfg.seed}")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    log = RunLog(out_dir / f"{cfg.run_id}.log" if rt.master else None, echo=console.line)
    code = source_text()
    write_header(log, console, cfg, code, rt)

    grad_accum = cfg.grad_accum_base // rt.world_size
    if grad_accum < 1 or cfg.grad_accum_base % rt.world_size:
        raise ValueError(f"world_size {rt.world_size} must divide grad_accum_base {cfg.grad_accum_base}")
    train_files = shard_files(data_dir, "train")
    val_tokens = load_tokens(shard_files(data_dir, "val"))
    tables = build_byte_tables(sp, cfg.vocab_size)
    log.emit("tokenizer", path=tokenizer_path)
    log.emit("train_loader", dataset=data_dir.name, shards=len(train_files))
    log.emit("val_loader", pattern=data_dir / "fineweb_val_*.bin", tokens=val_tokens.numel() - 1)

    gpt_cfg = GPTConfig.from_train_config(cfg, attention_backend(cfg, rt.device))
    base = GPT(gpt_cfg).to(rt.device)
    compiled = torch.compile(base, dynamic=False) if use_compile(cfg, rt.device) else base
    ddp_model = DistributedDataParallel(compiled, device_ids=[rt.local_rank] if rt.device.type == "cuda" else None,
                                        broadcast_buffers=False) if rt.distributed else compiled
    logits_fn = torch.compile(base.forward_logits, dynamic=False) if use_compile(cfg, rt.device) \
        else base.forward_logits
    optimizers = build_optimizers(base, cfg)
    log.emit("model_params", n=sum(p.numel() for p in base.parameters()))
    log.emit("world_size", world_size=rt.world_size, grad_accum=grad_accum)
    log.emit("batch_config", tokens=cfg.train_batch_tokens, seq_len=cfg.train_seq_len, iterations=cfg.iterations,
             warmup=cfg.compile_warmup_steps, cap=cfg.max_wallclock_seconds)
    log.emit("seed", seed=cfg.seed)

    reserve = cfg.gptq_reserve_seconds if cfg.quant_method == "gptq" and cfg.gptq_calib == "train" else 0.0
    cap_ms = 1000.0 * (cfg.max_wallclock_seconds - reserve) if cfg.max_wallclock_seconds > 0 else None
    if cap_ms is not None and reserve > 0:
        log.emit("gptq_reserve", seconds=reserve, ms=cap_ms)
    loader = DistributedTokenLoader(train_files, rt.rank, rt.world_size, rt.device)
    base.train()
    compile_warmup(ddp_model, base, optimizers, loader, cfg, grad_accum, rt, log)
    result = train_loop(cfg, rt, base, ddp_model, optimizers, loader, grad_accum, cap_ms, val_tokens, tables,
                        logits_fn, log, console)
    allocated, reserved = peak_memory_mib(rt.device)
    log.emit("peak_memory", allocated=allocated, reserved=reserved)
    averages = {"ema": result.ema, "swa": result.swa}
    summary = finish(cfg, gpt_cfg, rt, base, averages, result.train_ms, loader, val_tokens, tables, logits_fn,
                     log, code, out_dir, compiled=use_compile(cfg, rt.device))
    summary.update(steps=result.steps, train_ms=result.train_ms, first_loss=result.first_loss,
                   last_loss=result.last_loss, log_path=str(log.path) if log.path else None)
    if rt.distributed:
        dist.barrier()
        dist.destroy_process_group()
    return summary
