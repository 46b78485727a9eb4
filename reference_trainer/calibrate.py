"""GPTQ calibration: input Hessians H = E[x x^T] of every Linear layer, from training tokens or from the
model's own samples.

Rulings that shape this module (RULES TIME-004, TIME-005, EVAL-GPTQ-001): calibration on training data is
part of training, so it runs inside the wallclock cap (the trainer reserves time for it and logs the
total); autoregressive self-generated calibration (PR #1019) touches no data and may run after the
cap; validation tokens are never used.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from reference_trainer.model import GPT, CastedLinear
from reference_trainer.runtime import autocast_for


@torch.no_grad()
def collect_hessians(model: nn.Module, batches: Iterable[Tensor], device: torch.device) -> dict[str, Tensor]:
    """Run `batches` of input ids (B, T) through `model` (a GPT) and return {weight name: H (C_in, C_in)},
    averaged over all tokens of all ranks."""
    sums: dict[str, Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []

    def hook_for(name: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            x = inputs[0].detach().float().reshape(-1, inputs[0].size(-1))   # (tokens, C_in)
            if name not in sums:
                sums[name] = torch.zeros(x.size(1), x.size(1), device=x.device, dtype=torch.float32)
                counts[name] = 0
            sums[name].addmm_(x.T, x)
            counts[name] += x.size(0)
        return hook

    for name, module in model.named_modules():
        if isinstance(module, CastedLinear):
            hooks.append(module.register_forward_hook(hook_for(f"{name}.weight")))
    was_training = model.training
    model.eval()
    try:
        for ids in batches:
            with autocast_for(device):
                model.forward_logits(ids.to(device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    out: dict[str, Tensor] = {}
    for name in sorted(sums):
        total = torch.tensor([float(counts[name])], device=device)
        if distributed:
            dist.all_reduce(sums[name])
            dist.all_reduce(total)
        out[name] = (sums[name] / total).cpu()
    return out


@torch.no_grad()
def generate_samples(model: GPT, n_seqs: int, length: int, temperature: float, device: torch.device,
                     seed: int = 0, batch: int = 8) -> Tensor:
    """Sample `n_seqs` sequences of `length` tokens starting from BOS (no KV cache; full re-forward)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    out = []
    for b in range(0, n_seqs, batch):
        ids = torch.full((min(batch, n_seqs - b), 1), model.cfg.bos_id, dtype=torch.int64, device=device)
        for _ in range(length - 1):
            with autocast_for(device):
                logits = model.forward_logits(ids)[:, -1].float()          # (B, V)
            probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
            ids = torch.cat((ids, torch.multinomial(probs, 1, generator=gen)), dim=1)
        out.append(ids)
    model.train(was_training)
    return torch.cat(out)                                                    # (n_seqs, length)


def batched(ids: Tensor, batch: int) -> list[Tensor]:
    return [ids[i:i + batch] for i in range(0, ids.size(0), batch)]
