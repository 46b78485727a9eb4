"""Quantizer math as pure tensor functions: per-row intN, GPTQ-lite clip search, full-Hessian GPTQ.

- Per-row symmetric quantization: q = clamp(round(w / s), -qmax, qmax), one fp16 scale per output row;
  qmax = 2^(bits-1) - 1 (31 for int6, 127 for int8). The scale is rounded to fp16 *before* rounding
  the weights, so dequantization from the stored (q, s) reproduces the same tensor bit for bit.
- GPTQ-lite (2026-03-22 record, PR #374 lineage): per row, try several clip quantiles of |w| and
  keep the one with the smallest squared reconstruction error.
- GPTQ (Frantar et al. 2022, arXiv:2210.17323; full-Hessian variant of PR #1019/#1060 records):
  quantize columns in order of decreasing Hessian diagonal, spreading each column's rounding error
  over the not-yet-quantized columns through the upper Cholesky factor of H^-1.
- Entropy and +/-1 pruning costs, used by `artifact.py` to report and to hit a byte target.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

CLIP_QUANTILES = (0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0)
MIN_SCALE = 1e-7


def qmax(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def row_scales(clip: Tensor, bits: int) -> Tensor:
    """Per-row fp16 scales for row clip values `clip` (R,)."""
    return (clip.float() / qmax(bits)).clamp_min(MIN_SCALE).to(torch.float16)


def quantize_rows(w: Tensor, bits: int, clip: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(R, C) float -> q (R, C) int8 in [-qmax, qmax] and scale (R,) fp16. Default clip: row max |w|."""
    w32 = w.float()
    if clip is None:
        clip = w32.abs().amax(dim=1)
    scale = row_scales(clip, bits)
    q = torch.clamp(torch.round(w32 / scale.float()[:, None]), -qmax(bits), qmax(bits))
    return q.to(torch.int8), scale


def dequantize_rows(q: Tensor, scale: Tensor) -> Tensor:
    return q.float() * scale.float()[:, None]


def fake_quantize_rows(w: Tensor, bits: int) -> Tensor:
    """Quantize-dequantize with row-max scales (what late QAT simulates), in `w`'s dtype."""
    return dequantize_rows(*quantize_rows(w, bits)).to(w.dtype)


def clip_search_rows(w: Tensor, bits: int, quantiles: tuple[float, ...] = CLIP_QUANTILES) -> tuple[Tensor, Tensor]:
    """GPTQ-lite: per row, the clip quantile of |w| with minimum squared error; returns (q, scale)."""
    w32 = w.float()
    sorted_abs = w32.abs().sort(dim=1).values                       # (R, C) ascending
    cols = w32.shape[1]
    best_err = torch.full((w32.shape[0],), math.inf, device=w32.device)
    best_clip = sorted_abs[:, -1].clone()
    for quant in quantiles:
        clip = sorted_abs[:, min(cols - 1, round(quant * (cols - 1)))]
        q, s = quantize_rows(w32, bits, clip)
        err = (w32 - dequantize_rows(q, s)).pow(2).sum(dim=1)       # (R,)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_clip = torch.where(better, clip, best_clip)
    return quantize_rows(w32, bits, best_clip)


def gptq_quantize(w: Tensor, hessian: Tensor, bits: int, scale: Tensor, block_size: int = 128,
                  damp: float = 0.01, act_order: bool = True) -> Tensor:
    """GPTQ rounding of `w` (R, C) on the fixed per-row `scale` (R,), given H = E[x x^T] (C, C).

    Returns q (R, C) int8. Minimizes ||(w - q*s) X||^2 column by column (OBS update with H^-1).
    """
    W = w.float().clone()
    H = hessian.float().clone()
    cols = W.shape[1]
    dead = H.diagonal() == 0                      # inputs never active: weight is irrelevant
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    perm = torch.argsort(H.diagonal(), descending=True) if act_order else torch.arange(cols, device=W.device)
    W, H = W[:, perm], H[perm][:, perm]
    H.diagonal().add_(damp * H.diagonal().mean())
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)  # H^-1 = U^T U
    s = scale.float()                             # (R,)
    lim = qmax(bits)
    Q = torch.zeros_like(W)
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1 = W[:, i1:i2].clone()                  # (R, b) columns of this block, updated in place
        E1 = torch.zeros_like(W1)                 # (R, b) scaled errors, for the lazy batch update
        U1 = U[i1:i2, i1:i2]
        for j in range(i2 - i1):
            col = W1[:, j]
            qcol = torch.clamp(torch.round(col / s), -lim, lim)
            Q[:, i1 + j] = qcol
            err = (col - qcol * s) / U1[j, j]
            W1[:, j:] -= err[:, None] * U1[j, j:][None, :]
            E1[:, j] = err
        W[:, i2:] -= E1 @ U[i1:i2, i2:]           # propagate the block's error to later columns
    return Q[:, torch.argsort(perm)].to(torch.int8)


def gptq_rows(w: Tensor, hessian: Tensor, bits: int, block_size: int = 128,
              damp: float = 0.01) -> tuple[Tensor, Tensor]:
    """Full GPTQ: GPTQ-lite scales, then Hessian-aware rounding; returns (q, scale)."""
    _, scale = clip_search_rows(w, bits)
    return gptq_quantize(w, hessian, bits, scale, block_size=block_size, damp=damp), scale


def hessian_error(w: Tensor, w_hat: Tensor, hessian: Tensor) -> float:
    """tr((w - w_hat) H (w - w_hat)^T): the expected output error for inputs with E[x x^T] = H."""
    d = (w.float() - w_hat.float())
    return float(torch.einsum("rc,cd,rd->", d, hessian.float(), d))


def symbol_entropy_bits(q: Tensor) -> float:
    """Empirical (order-0) entropy of the symbols of `q`, times their count: a bound for entropy coders."""
    counts = torch.bincount(q.flatten().to(torch.int64) + 128, minlength=256).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * torch.log2(p)).sum() * q.numel())


def prune_costs(w: Tensor, q: Tensor, scale: Tensor) -> Tensor:
    """Squared-error increase of setting each +/-1 entry of q to 0 (inf for every other entry)."""
    s = scale.float()[:, None]
    r = w.float() / s
    cost = (s * s) * (2.0 * r.abs() - 1.0).clamp_min(0.0)
    return torch.where(q.abs() == 1, cost, torch.full_like(cost, math.inf))
