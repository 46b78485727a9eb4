"""Optimizers and schedules: Muon for matrices, AdamW for embeddings and scalars, LR and averaging.

- Muon (Keller Jordan, 2024, "Muon: An optimizer for hidden layers", github.com/KellerJordan/Muon):
  heavy-ball momentum (Nesterov form), then the update is replaced by its nearest semi-orthogonal
  matrix, approximated with five steps of a quintic Newton-Schulz iteration (coefficients
  3.4445, -4.7750, 2.0315), scaled by sqrt(max(1, rows/cols)); decoupled weight decay (PR #198/#287
  lineage: MUON_WD 0.04). Ranks share the Newton-Schulz work round-robin and all-reduce the updates.
- Learning-rate scale: optional linear warm-up, then a linear warm-down over the last `warmdown_iters`
  steps, where "last" is measured in iterations or, under a wallclock cap, in milliseconds at the
  current step_avg (baseline train_gpt.py), whichever ends first.
- EMA of the weights (decay 0.997, 2026-03-20 record) and tight SWA (average every N steps during
  the warm-down; Izmailov et al., arXiv:1803.05407).

The math is in pure functions (`newton_schulz`, `muon_update`, `lr_scale`, ...); the classes hold state.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from reference_trainer.config import TrainConfig

NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: Tensor, steps: int = 5, eps: float = 1e-7) -> Tensor:
    """Approximately orthogonalize g (R, C): push every singular value towards ~1 (U S V^T -> U V^T)."""
    a, b, c = NS_COEFFS
    x = g / (g.norm() + eps)                       # spectral norm <= 1 so the iteration converges
    transposed = x.size(0) > x.size(1)
    if transposed:                                 # iterate on the wide orientation: X X^T is smaller
        x = x.T
    for _ in range(steps):
        xxt = x @ x.T
        x = a * x + (b * xxt + c * xxt @ xxt) @ x
    return x.T if transposed else x


def muon_update(grad: Tensor, buf: Tensor, momentum: float, nesterov: bool = True,
                ns_steps: int = 5, ns_dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """One Muon direction. Returns (update, new momentum buffer); inputs are not modified."""
    new_buf = momentum * buf + grad
    g = grad + momentum * new_buf if nesterov else new_buf
    u = newton_schulz(g.to(ns_dtype), ns_steps).to(grad.dtype)
    return u * max(1.0, g.size(0) / g.size(1)) ** 0.5, new_buf


class Muon(torch.optim.Optimizer):
    """Muon for 2-D weights. Hyperparameters: lr, momentum, nesterov, ns_steps, weight_decay.

    Under torch.distributed, parameter i is orthogonalized on rank i % world_size and the updates are
    summed with one all-reduce (every other rank contributes zeros), so each rank applies all of them.
    """

    def __init__(self, params: list[Tensor], lr: float, momentum: float, ns_steps: int = 5,
                 nesterov: bool = True, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, ns_steps=ns_steps, nesterov=nesterov,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        world, rank = (dist.get_world_size(), dist.get_rank()) if distributed else (1, 0)
        for group in self.param_groups:
            params = group["params"]
            if not params:
                continue
            ns_dtype = torch.bfloat16 if params[0].is_cuda else torch.float32
            flat = torch.zeros(sum(p.numel() for p in params), device=params[0].device, dtype=ns_dtype)
            offset = 0
            for i, p in enumerate(params):
                if i % world == rank and p.grad is not None:
                    state = self.state[p]
                    buf = state.get("momentum_buffer", torch.zeros_like(p.grad))
                    update, state["momentum_buffer"] = muon_update(
                        p.grad, buf, group["momentum"], group["nesterov"], group["ns_steps"], ns_dtype)
                    flat[offset:offset + p.numel()] = update.reshape(-1).to(ns_dtype)
                offset += p.numel()
            if distributed and world > 1:
                dist.all_reduce(flat)
            offset = 0
            for p in params:
                if group["weight_decay"] > 0:
                    p.mul_(1.0 - group["lr"] * group["weight_decay"])
                p.add_(flat[offset:offset + p.numel()].view_as(p).to(p.dtype), alpha=-group["lr"])
                offset += p.numel()


def split_parameters(model: nn.Module) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """(matrices, embeddings, scalars) by module type: Linear weights go to Muon, Embedding tables and
    everything else (gains, gates, mixes, skip weights) to AdamW."""
    matrix_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    embed_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    matrices, embeds, scalars = [], [], []
    for p in model.parameters():
        (matrices if id(p) in matrix_ids else embeds if id(p) in embed_ids else scalars).append(p)
    return matrices, embeds, scalars


def build_optimizers(model: nn.Module, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """Muon + two AdamW; every param group records its `base_lr` for the schedule."""
    matrices, embeds, scalars = split_parameters(model)
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    adam = dict(betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps, weight_decay=cfg.adam_wd, **fused)
    optimizers: list[torch.optim.Optimizer] = [
        Muon(matrices, lr=cfg.matrix_lr, momentum=cfg.muon_momentum, ns_steps=cfg.muon_ns_steps,
             weight_decay=cfg.muon_wd),
        torch.optim.AdamW([{"params": embeds, "lr": cfg.embed_lr}], **adam),
        torch.optim.AdamW([{"params": scalars, "lr": cfg.scalar_lr}], **adam),
    ]
    for opt in optimizers:
        for group in opt.param_groups:
            group["base_lr"] = group["lr"]
    return optimizers


def lr_scale(step: int, elapsed_ms: float, cfg: TrainConfig, cap_ms: float | None) -> float:
    """Multiplier on every base LR at `step` after `elapsed_ms` of training (cap_ms None: no cap)."""
    warm = min(1.0, (step + 1) / cfg.lr_warmup_steps) if cfg.lr_warmup_steps > 0 else 1.0
    if cfg.warmdown_iters <= 0:
        return warm
    by_steps = min(1.0, max(cfg.iterations - step, 0) / cfg.warmdown_iters)
    by_time = 1.0
    if cap_ms is not None and step > 0:
        warmdown_ms = cfg.warmdown_iters * elapsed_ms / step      # warm-down length at the current pace
        by_time = min(1.0, max(cap_ms - elapsed_ms, 0.0) / max(warmdown_ms, 1e-9))
    return warm * min(by_steps, by_time)


def muon_momentum_at(step: int, cfg: TrainConfig) -> float:
    if cfg.muon_momentum_warmup_steps <= 0:
        return cfg.muon_momentum
    frac = min(step / cfg.muon_momentum_warmup_steps, 1.0)
    return (1 - frac) * cfg.muon_momentum_warmup_start + frac * cfg.muon_momentum


def set_schedule(optimizers: list[torch.optim.Optimizer], scale: float, momentum: float) -> None:
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * scale
            if isinstance(opt, Muon):
                group["momentum"] = momentum


class WeightAverage:
    """EMA (`decay` > 0) or running mean (`decay` None, tight SWA) of a model's float state, in fp32."""

    def __init__(self, model: nn.Module, decay: float | None) -> None:
        self.decay = decay
        self.count = 0
        self.state = {k: v.detach().float().clone() for k, v in model.state_dict().items()
                      if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.count += 1
        weight = (1.0 - self.decay) if self.decay is not None else 1.0 / self.count
        current = model.state_dict()
        avg = list(self.state.values())
        torch._foreach_lerp_(avg, [current[k].detach().float() for k in self.state], weight)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        current = model.state_dict()
        for k, v in self.state.items():
            current[k].copy_(v.to(current[k].dtype))
