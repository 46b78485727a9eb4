"""Muon math, parameter grouping, LR schedule, and weight averaging."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from reference_trainer.config import PRESETS
from reference_trainer.model import GPT, GPTConfig
from reference_trainer.optim import (Muon, WeightAverage, build_optimizers, lr_scale, muon_momentum_at,
                                     muon_update, newton_schulz, split_parameters)


@pytest.mark.parametrize("shape", [(32, 64), (64, 32), (48, 48)])
def test_newton_schulz_flattens_the_spectrum(shape: tuple[int, int]) -> None:
    torch.manual_seed(0)
    g = torch.randn(*shape) @ torch.diag(torch.logspace(-1, 0, shape[1]))   # condition number ~30
    s = torch.linalg.svdvals(newton_schulz(g, steps=5))
    assert s.min() > 0.5 and s.max() < 1.3               # the quintic aims near 1, not exactly 1
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    cosine = (newton_schulz(g) * (u @ vh)).sum() / (u @ vh).norm() ** 2
    assert cosine > 0.8


def test_muon_update_is_pure_and_scaled_for_tall_matrices() -> None:
    grad, buf = torch.randn(64, 16), torch.randn(64, 16)
    grad0, buf0 = grad.clone(), buf.clone()
    update, new_buf = muon_update(grad, buf, momentum=0.9)
    assert torch.equal(grad, grad0) and torch.equal(buf, buf0)
    assert torch.allclose(new_buf, 0.9 * buf + grad)
    assert torch.allclose(update, newton_schulz(grad + 0.9 * new_buf) * 2.0)    # sqrt(64/16)


def test_muon_step_applies_decoupled_weight_decay() -> None:
    p = torch.nn.Parameter(torch.ones(4, 4))
    p.grad = torch.zeros(4, 4)
    opt = Muon([p], lr=0.1, momentum=0.0, weight_decay=0.5)
    opt.step()
    assert torch.allclose(p.detach(), torch.full((4, 4), 0.95))


def test_parameters_are_grouped_by_module_type() -> None:
    model = GPT(GPTConfig(vocab_size=64, num_layers=2, model_dim=32, num_heads=4, num_kv_heads=2, rope_dims=4,
                          bigram_vocab_size=32, bigram_dim=8, ve_dim=8, ve_layers="1"))
    matrices, embeds, scalars = split_parameters(model)
    assert all(p.ndim == 2 for p in matrices) and len(matrices) == 2 * 6 + 2     # + bigram/value projections
    assert {tuple(p.shape) for p in embeds} == {(64, 32), (32, 8), (64, 8)}
    scalar_ids = {id(p) for p in scalars}
    assert id(model.blocks[0].resid_mix) in scalar_ids and id(model.skip_weights) in scalar_ids
    assert len(matrices) + len(embeds) + len(scalars) == len(list(model.parameters()))
    opts = build_optimizers(model, PRESETS["tiny"])
    assert [g["base_lr"] for o in opts for g in o.param_groups] == [0.04, 0.1, 0.04]


def test_lr_schedule_warms_down_by_steps_and_by_wallclock() -> None:
    cfg = replace(PRESETS["tiny"], iterations=100, warmdown_iters=20, lr_warmup_steps=0)
    assert lr_scale(0, 0.0, cfg, None) == 1.0
    assert lr_scale(90, 0.0, cfg, None) == pytest.approx(0.5)
    assert lr_scale(100, 0.0, cfg, None) == 0.0
    # 10 steps took 1000 ms: warm-down lasts 20 * 100 ms = 2000 ms; 1000 ms of a 2000 ms cap remain
    assert lr_scale(10, 1000.0, cfg, cap_ms=2000.0) == pytest.approx(0.5)
    assert lr_scale(10, 2500.0, cfg, cap_ms=2000.0) == 0.0
    warm = replace(cfg, lr_warmup_steps=4)
    assert [lr_scale(s, 0.0, warm, None) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert muon_momentum_at(0, cfg) == cfg.muon_momentum_warmup_start
    assert muon_momentum_at(10_000, cfg) == cfg.muon_momentum


def test_ema_and_swa() -> None:
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema, swa = WeightAverage(model, 0.5), WeightAverage(model, None)
    for value in (2.0, 4.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
        swa.update(model)
    assert torch.allclose(ema.state["weight"], torch.full((1, 2), 2.5))    # 0 -> 1 -> 2.5
    assert torch.allclose(swa.state["weight"], torch.full((1, 2), 3.0))    # mean of 2 and 4
    swa.copy_to(model)
    assert torch.allclose(model.weight, torch.full((1, 2), 3.0))
