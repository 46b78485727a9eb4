"""Legal score-first test-time training (README 2026-03-20; PR #461 recipe as merged in PR #549).

The validation stream is cut into chunks of `ttt_chunk_tokens` scored positions. For each chunk, in order:
1. score it: every sliding window whose scored positions start in the chunk is evaluated under
   `torch.no_grad()` with the current weights, and its NLL/tokens/bytes are added to the totals;
2. train on it: SGD for `ttt_epochs` on length-L sequences whose targets all lie in positions that
   have been scored (the scored frontier), never beyond (RULES EVAL-TTT-001/002, condition C3).
The last chunk is not trained on. Each target is scored exactly once (window plan of evaluate.py).
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch
import torch.distributed as dist
from torch import Tensor

from reference_trainer.config import TrainConfig
from reference_trainer.evaluate import (ByteTables, EvalResult, all_reduce_sums, result_from_sums, score_windows,
                                        window_plan)
from reference_trainer.model import GPT
from reference_trainer.runtime import autocast_for

Span = Callable[[int, int], None]  # callback(first position, end position)


def _average_grads(params: list[Tensor]) -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)


def ttt_evaluate(model: GPT, tokens: Tensor, tables: ByteTables, cfg: TrainConfig, device: torch.device,
                 rank: int = 0, world_size: int = 1, log: Callable[..., object] | None = None,
                 on_score: Span | None = None, on_train: Span | None = None) -> EvalResult:
    """Score-then-adapt BPB of `tokens`; `model` is modified in place."""
    seq_len, stride, chunk = cfg.eval_seq_len, cfg.eval_stride, cfg.ttt_chunk_tokens
    total = tokens.numel() - 1
    windows = window_plan(total, seq_len, stride)
    n_chunks = max(1, math.ceil(total / chunk))
    chunk_windows: list[list] = [[] for _ in range(n_chunks)]
    for w in windows:
        chunk_windows[min(w.score_from // chunk, n_chunks - 1)].append(w)
    frozen = {f"blocks.{i}." for i in range(cfg.ttt_freeze_blocks)}
    params = [p for n, p in model.named_parameters() if not any(n.startswith(f) for f in frozen)]
    for n, p in model.named_parameters():
        p.requires_grad_(not any(n.startswith(f) for f in frozen))
    opt = torch.optim.SGD(params, lr=cfg.ttt_lr, momentum=cfg.ttt_momentum)
    if log is not None:
        log("ttt_start", chunks=n_chunks, chunk_tokens=chunk, windows=len(windows), stride=stride,
            lr=cfg.ttt_lr, epochs=cfg.ttt_epochs, freeze=cfg.ttt_freeze_blocks)
    tables = tables.to(device)
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    frontier = 0                                   # every position < frontier has been scored
    t0 = time.perf_counter()
    for ci, cw in enumerate(chunk_windows):
        if not cw:
            continue
        # 1. score (no gradient, current weights)
        model.eval()
        mine = cw[len(cw) * rank // world_size:len(cw) * (rank + 1) // world_size]
        with torch.no_grad():
            sums += score_windows(model.forward_logits, tokens, mine, tables, device, cfg.eval_batch_seqs)
        scored_end = cw[-1].end
        if on_score is not None:
            on_score(frontier, scored_end)
        # 2. adapt on scored positions only: sequences [a, a + L) with a + L <= scored_end
        starts = list(range(scored_end - seq_len, frontier - 1, -seq_len))[::-1]
        if ci < n_chunks - 1 and cfg.ttt_epochs > 0 and starts:
            model.train()
            for group in opt.param_groups:
                group["lr"] = cfg.ttt_lr * 0.5 * (1.0 + math.cos(math.pi * ci / max(n_chunks - 1, 1)))
            for _ in range(cfg.ttt_epochs):
                for b in range(0, len(starts), cfg.ttt_batch_seqs):
                    batch = starts[b:b + cfg.ttt_batch_seqs]
                    opt.zero_grad(set_to_none=True)
                    my = batch[rank::world_size]
                    if my:
                        if max(my) + seq_len > scored_end:
                            raise RuntimeError("TTT would train on positions that are not scored yet")
                        x = torch.stack([tokens[a:a + seq_len] for a in my]).long().to(device)
                        y = torch.stack([tokens[a + 1:a + seq_len + 1] for a in my]).long().to(device)
                        with autocast_for(device):
                            loss = model(x, y) * (len(my) / len(batch))
                        loss.backward()
                        if on_train is not None:
                            for a in my:
                                on_train(a, a + seq_len)
                    _average_grads(params)
                    if cfg.ttt_grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(params, cfg.ttt_grad_clip)
                    opt.step()
        frontier = scored_end
        if log is not None and (ci % 10 == 0 or ci == n_chunks - 1):
            partial = all_reduce_sums(sums.clone()).tolist()
            bpb = result_from_sums(*partial).bpb if partial[1] > 0 else 0.0
            log("ttt_chunk", i=ci + 1, n=n_chunks, bpb=bpb, seconds=time.perf_counter() - t0)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    result = result_from_sums(*all_reduce_sums(sums).tolist())
    if log is not None:
        log("ttt_done", loss=result.loss, bpb=result.bpb, seconds=time.perf_counter() - t0)
    return result
