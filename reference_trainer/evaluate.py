"""Exact validation BPB: canonical byte tables (RULES BPB-001/002) and sliding windows (BPB-004).

val_loss = mean natural-log cross-entropy over scored targets; val_bpb = val_loss / ln 2 * tokens / bytes,
with the three sums kept in float64 and all-reduced across ranks (baseline `eval_val`).

Bytes of a target token (baseline `build_sentencepiece_luts`): control/unknown/unused ids are
boundary tokens worth 0 bytes; byte-fallback ids are worth 1; any other piece is worth the UTF-8
length of its text without a leading "\u2581", plus 1 for that space only if the previous (input)
token is not a boundary token.

Windows (`window_plan`): length L, starting every `stride` positions; the first window scores all
its positions, every later one only the positions after the previous window's end, and the last
window is shifted back to end exactly at the stream's end. Every target is scored exactly once with at
least L - stride tokens of context. (The baseline rule `s = 0 if ws == 0 else max(wlen - stride, 0)`
over `range(0, N, stride)` scores the final `stride` targets again in each of the last L/stride - 1
windows; this plan does not.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from reference_trainer.runtime import autocast_for


class PieceVocabulary(Protocol):
    """The part of `sentencepiece.SentencePieceProcessor` the byte tables need."""

    def vocab_size(self) -> int: ...
    def id_to_piece(self, i: int) -> str: ...
    def is_control(self, i: int) -> bool: ...
    def is_unknown(self, i: int) -> bool: ...
    def is_unused(self, i: int) -> bool: ...
    def is_byte(self, i: int) -> bool: ...


@dataclass(frozen=True)
class ByteTables:
    base_bytes: Tensor         # (V,) int16: UTF-8 bytes of the piece without its leading space
    has_space: Tensor          # (V,) bool: the piece starts with U+2581
    is_boundary: Tensor        # (V,) bool: control / unknown / unused

    def to(self, device: torch.device) -> ByteTables:
        return ByteTables(self.base_bytes.to(device), self.has_space.to(device), self.is_boundary.to(device))

    def target_bytes(self, prev: Tensor, target: Tensor) -> Tensor:
        """Bytes of each `target` token given the input token `prev` before it (same shapes)."""
        extra = self.has_space[target] & ~self.is_boundary[prev]
        return self.base_bytes[target].to(torch.int64) + extra.to(torch.int64)


def build_byte_tables(sp: PieceVocabulary, vocab_size: int) -> ByteTables:
    size = max(int(sp.vocab_size()), vocab_size)
    base = np.zeros(size, dtype=np.int16)
    space = np.zeros(size, dtype=np.bool_)
    boundary = np.ones(size, dtype=np.bool_)
    for i in range(int(sp.vocab_size())):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            continue
        boundary[i] = False
        if sp.is_byte(i):
            base[i] = 1
            continue
        piece = sp.id_to_piece(i)
        if piece.startswith("\u2581"):
            space[i], piece = True, piece[1:]
        base[i] = len(piece.encode("utf-8"))
    return ByteTables(torch.from_numpy(base), torch.from_numpy(space), torch.from_numpy(boundary))


@dataclass(frozen=True)
class Window:
    start: int        # first input position; inputs tokens[start:end], targets tokens[start+1:end+1]
    end: int
    score_from: int   # first scored position (absolute); positions score_from..end-1 are scored


def window_plan(total: int, seq_len: int, stride: int) -> list[Window]:
    """Windows over `total` target positions (stream length - 1); see the module docstring."""
    if total <= 0:
        return []
    stride = min(stride, seq_len)
    windows = [Window(0, min(seq_len, total), 0)]
    while windows[-1].end < total:
        end = min(windows[-1].end + stride, total)
        windows.append(Window(max(end - seq_len, 0), end, windows[-1].end))
    return windows


@dataclass(frozen=True)
class EvalResult:
    loss: float          # nats per scored token
    bpb: float           # bits per byte
    tokens: int          # scored targets
    bytes: int           # their canonical bytes


def result_from_sums(loss_sum: float, tokens: float, nbytes: float) -> EvalResult:
    loss = loss_sum / tokens
    return EvalResult(loss, loss / math.log(2.0) * tokens / nbytes, int(tokens), int(nbytes))


def all_reduce_sums(sums: Tensor) -> Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(sums)
    return sums


def score_windows(logits_fn: Callable[[Tensor], Tensor], tokens: Tensor, windows: list[Window],
                  tables: ByteTables, device: torch.device, batch_seqs: int) -> Tensor:
    """Sum of NLL, token count and byte count (float64, shape (3,)) over the windows' scored positions."""
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    for b in range(0, len(windows), batch_seqs):
        batch = windows[b:b + batch_seqs]
        width = max(w.end - w.start for w in batch)
        x = torch.zeros(len(batch), width, dtype=torch.int64)
        y = torch.zeros(len(batch), width, dtype=torch.int64)
        mask = torch.zeros(len(batch), width, dtype=torch.bool)
        for i, w in enumerate(batch):
            n = w.end - w.start
            x[i, :n] = tokens[w.start:w.end]
            y[i, :n] = tokens[w.start + 1:w.end + 1]
            mask[i, w.score_from - w.start:n] = True
        x, y, mask = x.to(device), y.to(device), mask.to(device)
        with autocast_for(device):
            logits = logits_fn(x)                                              # (B, T, V)
        nll = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view_as(y)
        nbytes = tables.target_bytes(x, y)
        sums[0] += nll.double()[mask].sum()
        sums[1] += mask.sum()
        sums[2] += nbytes[mask].double().sum()
    return sums


@torch.no_grad()
def evaluate(logits_fn: Callable[[Tensor], Tensor], tokens: Tensor, tables: ByteTables, seq_len: int,
             stride: int, device: torch.device, batch_seqs: int = 32, rank: int = 0,
             world_size: int = 1) -> EvalResult:
    """BPB of the whole stream `tokens` (1-D). stride == seq_len gives non-overlapping windows."""
    windows = window_plan(tokens.numel() - 1, seq_len, stride)
    mine = windows[len(windows) * rank // world_size:len(windows) * (rank + 1) // world_size]
    sums = score_windows(logits_fn, tokens, mine, tables.to(device), device, batch_seqs)
    loss_sum, count, nbytes = all_reduce_sums(sums).tolist()
    return result_from_sums(loss_sum, count, nbytes)
