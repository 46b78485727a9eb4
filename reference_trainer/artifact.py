"""The compressed artifact: which tensor gets which precision, serialization, pruning to a byte target.

Policy (by module type, as in the int6 records): Linear weights per-row int6, embedding tables per-row
int8, everything else (gains, gates, mixes) fp16. The container is a small header (JSON: model config and
the tensor list) followed by all quantized symbols, then all scales, then the fp16 tensors, compressed
with zstd level 22 (records since 2026-03-19 used zstd-22 or lzma). Loading gives back the same int8
symbols and fp16 scales, so the dequantized weights are bit-identical to the ones evaluated in memory.

Selective +/-1 pruning (PR #1019's `selective_prune`): if the artifact is over its byte target, set the
cheapest +/-1 symbols to 0 (cheapest = smallest increase of squared error), the count found by bisection.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import zstandard
from torch import Tensor, nn

from reference_trainer.quant import (clip_search_rows, dequantize_rows, gptq_rows, prune_costs,
                                     quantize_rows, symbol_entropy_bits)

MAGIC = b"PGQ1"


@dataclass(frozen=True)
class QuantTensor:
    name: str
    shape: tuple[int, ...]
    bits: int                 # 6 or 8: per-row integers; 16: fp16 passthrough
    q: Tensor | None = None   # (R, C) int8 symbols
    scale: Tensor | None = None  # (R,) fp16
    data: Tensor | None = None   # fp16 tensor (passthrough)


def quant_plan(model: nn.Module, linear_bits: int = 6, embed_bits: int = 8) -> dict[str, int]:
    """{state-dict name: bits}: Linear weights -> linear_bits, Embedding tables -> embed_bits, rest -> 16."""
    bits = {f"{n}.weight": linear_bits for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    bits.update({f"{n}.weight": embed_bits for n, m in model.named_modules() if isinstance(m, nn.Embedding)})
    return {name: bits.get(name, 16) for name in model.state_dict()}


def quantize_state(state: dict[str, Tensor], plan: dict[str, int], method: str = "gptq_lite",
                   hessians: dict[str, Tensor] | None = None, block_size: int = 128,
                   damp: float = 0.01, device: torch.device | None = None) -> list[QuantTensor]:
    """Quantize a float state dict. method: rtn (row max) | gptq_lite (clip search) | gptq (needs
    `hessians` for Linear weights; tensors without one fall back to gptq_lite). The math runs on
    `device` (default CPU); the results are CPU tensors."""
    out = []
    for name, t in state.items():
        t = t.detach().float().cpu()
        bits = plan[name]
        if bits >= 16:
            out.append(QuantTensor(name, tuple(t.shape), 16, data=t.to(torch.float16)))
            continue
        w = t.reshape(t.shape[0], -1).to(device or "cpu")
        if method == "gptq" and hessians is not None and name in hessians:
            q, s = gptq_rows(w, hessians[name].to(w.device), bits, block_size=block_size, damp=damp)
        elif method in ("gptq", "gptq_lite"):
            q, s = clip_search_rows(w, bits)
        elif method == "rtn":
            q, s = quantize_rows(w, bits)
        else:
            raise ValueError(f"unknown quantization method {method!r}")
        out.append(QuantTensor(name, tuple(t.shape), bits, q=q.cpu(), scale=s.cpu()))
    return out


def dequantize_state(tensors: list[QuantTensor]) -> dict[str, Tensor]:
    return {t.name: (t.data.float() if t.bits >= 16 else dequantize_rows(t.q, t.scale)).reshape(t.shape)
            for t in tensors}


def _payload(tensors: list[QuantTensor]) -> bytes:
    ints = [t for t in tensors if t.bits < 16]
    parts = [t.q.numpy().tobytes() for t in ints]                      # all symbols first ...
    parts += [t.scale.numpy().tobytes() for t in ints]                 # ... then all scales ...
    parts += [t.data.numpy().tobytes() for t in tensors if t.bits >= 16]  # ... then fp16 tensors
    return b"".join(parts)


def serialize(tensors: list[QuantTensor], meta: dict, level: int = 22) -> bytes:
    header = json.dumps({"meta": meta, "tensors": [[t.name, list(t.shape), t.bits] for t in tensors]},
                        separators=(",", ":")).encode("utf-8")
    raw = MAGIC + struct.pack("<I", len(header)) + header + _payload(tensors)
    return zstandard.ZstdCompressor(level=level).compress(raw)


def deserialize(blob: bytes) -> tuple[list[QuantTensor], dict]:
    raw = zstandard.ZstdDecompressor().decompress(blob)
    if raw[:4] != MAGIC:
        raise ValueError("not a pgolf quantized artifact")
    (hlen,) = struct.unpack("<I", raw[4:8])
    header = json.loads(raw[8:8 + hlen])
    buf = io.BytesIO(raw[8 + hlen:])
    specs = [(name, tuple(shape), bits) for name, shape, bits in header["tensors"]]

    def read(count: int, dtype: np.dtype) -> Tensor:
        return torch.from_numpy(np.frombuffer(buf.read(count * dtype.itemsize), dtype=dtype).copy())

    rows = {name: shape[0] for name, shape, bits in specs if bits < 16}
    qs = {name: read(math.prod(shape), np.dtype(np.int8)).view(shape[0], -1)
          for name, shape, bits in specs if bits < 16}
    scales = {name: read(rows[name], np.dtype(np.float16)) for name in rows}
    out = []
    for name, shape, bits in specs:
        if bits < 16:
            out.append(QuantTensor(name, shape, bits, q=qs[name], scale=scales[name]))
        else:
            out.append(QuantTensor(name, shape, 16, data=read(math.prod(shape), np.dtype(np.float16)).view(shape)))
    return out, header["meta"]


def prune_to_target(tensors: list[QuantTensor], weights: dict[str, Tensor], meta: dict, target_bytes: int,
                    level: int = 22, search_level: int = 9) -> tuple[list[QuantTensor], int, int, bytes]:
    """Zero the fewest cheapest +/-1 symbols for which serialize(..., level) <= target_bytes.

    The amount is first estimated with the faster `search_level` compressor, against the target scaled by
    the two levels' size ratio on the unpruned state; the estimate is then bracketed and bisected with the
    final compressor, to a resolution of candidates/4096 symbols. Returns (tensors, pruned, candidates, blob).
    If even pruning every candidate does not fit, returns the fully pruned state (the caller reports the
    overshoot)."""
    blob = serialize(tensors, meta, level)
    ints = [i for i, t in enumerate(tensors) if t.bits < 16]
    costs = [prune_costs(weights[tensors[i].name].reshape(tensors[i].q.shape), tensors[i].q,
                         tensors[i].scale).flatten() for i in ints]
    flat = torch.cat(costs) if costs else torch.zeros(0)
    candidates = int(torch.isfinite(flat).sum())
    if len(blob) <= target_bytes or candidates == 0:
        return tensors, 0, candidates, blob
    order = torch.argsort(flat)[:candidates]                     # cheapest first; inf (non +/-1) excluded
    bounds = np.cumsum([0] + [c.numel() for c in costs])
    resolution = max(1, candidates // 4096)

    def pruned(k: int) -> list[QuantTensor]:
        out = list(tensors)
        chosen = order[:k]
        for j, i in enumerate(ints):
            local = chosen[(chosen >= int(bounds[j])) & (chosen < int(bounds[j + 1]))] - int(bounds[j])
            if local.numel():
                q = tensors[i].q.clone().view(-1)
                q[local] = 0
                out[i] = replace(tensors[i], q=q.view_as(tensors[i].q))
        return out

    def smallest_fitting(lo: int, hi: int, test: Callable[[int], bool]) -> int:
        while hi - lo > resolution:                      # test(lo) is False; test(hi) is True or hi = all
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if test(mid) else (mid, hi)
        return hi

    ratio = len(serialize(tensors, meta, search_level)) / len(blob)
    estimate = smallest_fitting(0, candidates,
                                lambda k: len(serialize(pruned(k), meta, search_level)) <= target_bytes * ratio)

    fitting: dict[int, bytes] = {}                       # final blobs that fit, by amount pruned

    def fits(k: int) -> bool:
        if k not in fitting:
            out = serialize(pruned(k), meta, level)
            if len(out) > target_bytes:
                return False
            fitting.clear()                              # a smaller fitting amount supersedes any before it
            fitting[k] = out
        return True

    step = max(resolution, candidates // 64)
    if fits(estimate):                                   # walk down until it no longer fits
        lo, hi = max(0, estimate - step), estimate
        while lo > 0 and fits(lo):
            lo, hi, step = max(0, lo - 2 * step), lo, 2 * step
    else:                                                # walk up until it fits (or everything is pruned)
        lo, hi = estimate, min(candidates, estimate + step)
        while hi < candidates and not fits(hi):
            lo, hi, step = hi, min(candidates, hi + 2 * step), 2 * step
    k = smallest_fitting(lo, hi, fits)
    return pruned(k), k, candidates, fitting.get(k) or serialize(pruned(k), meta, level)


@dataclass(frozen=True)
class EntropyReport:
    symbols: int          # quantized integers stored
    entropy_bytes: int    # order-0 empirical entropy of those symbols, in bytes
    side_bytes: int       # raw bytes of scales and fp16 tensors
    model_bytes: int      # compressed artifact (model part)

    @property
    def overhead(self) -> float:
        """model bytes / (entropy bound + side bytes): < 1 means zstd beat the order-0 bound."""
        return self.model_bytes / max(self.entropy_bytes + self.side_bytes, 1)


def entropy_report(tensors: list[QuantTensor], model_bytes: int) -> EntropyReport:
    ints = [t for t in tensors if t.bits < 16]
    bits = sum(symbol_entropy_bits(t.q) for t in ints)
    side = sum(t.scale.numel() * 2 for t in ints) + sum(t.data.numel() * 2 for t in tensors if t.bits >= 16)
    return EntropyReport(sum(t.q.numel() for t in ints), math.ceil(bits / 8), side, model_bytes)
