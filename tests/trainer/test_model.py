"""The model: shapes, causality with every feature on, the BOS masks, XSA, partial RoPE, GQA."""

from __future__ import annotations

import torch
from torch import nn

from reference_trainer.model import (GPT, BigramHash, GPTConfig, SmearGate, apply_rotary, exclude_self_value,
                                     rotary_tables)

CFG = GPTConfig(vocab_size=96, num_layers=4, model_dim=32, num_heads=4, num_kv_heads=2, rope_dims=4,
                bigram_vocab_size=64, bigram_dim=16, ve_dim=8, ve_layers="2,3", mlp_act="leaky2")


def randomized(cfg: GPTConfig = CFG) -> GPT:
    """A model with every parameter random (zero-initialized projections would hide bugs)."""
    torch.manual_seed(0)
    model = GPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model.eval()


def test_shapes_and_gqa_projections() -> None:
    model = randomized()
    ids = torch.randint(0, 96, (2, 12))
    assert model.forward_logits(ids).shape == (2, 12, 96)
    assert model(ids, ids).ndim == 0
    attn = model.blocks[0].attn
    assert attn.c_q.weight.shape == (32, 32) and attn.c_k.weight.shape == (16, 32)   # 2 KV heads of 8
    assert model.blocks[1].mlp.fc.weight.shape == (96, 32)
    assert abs(model.blocks[3].ln_factor - 0.5) < 1e-12 and model.skip_weights.shape == (2, 32)


def test_logits_are_causal_and_softcapped() -> None:
    model = randomized()
    ids = torch.randint(2, 96, (1, 16))
    changed = ids.clone()
    changed[0, 10:] = torch.randint(2, 96, (6,))
    a, b = model.forward_logits(ids), model.forward_logits(changed)
    assert torch.allclose(a[0, :10], b[0, :10], atol=1e-6)
    assert not torch.allclose(a[0, 10:], b[0, 10:])
    assert a.abs().max() <= CFG.logit_softcap


def test_smeargate_never_mixes_into_a_bos_position() -> None:
    gate = SmearGate(4, bos_id=1)
    with torch.no_grad():
        gate.gate.fill_(3.0)
    x = torch.randn(1, 5, 4)
    ids = torch.tensor([[1, 7, 8, 1, 9]])
    y = gate(x, ids)
    assert torch.equal(y[0, 3], x[0, 3]) and torch.equal(y[0, 0], x[0, 0])
    assert not torch.allclose(y[0, 4], x[0, 4])


def test_documents_after_a_bos_do_not_see_the_previous_token_through_mixers() -> None:
    """The embedding stream x0 (token + BigramHash + SmearGate) at a BOS position is independent of the
    previous document (attention may still look back; that is causal and allowed)."""
    model = randomized()
    captured = []
    model.blocks[0].register_forward_hook(lambda m, args, out: captured.append(args[1]))  # x0
    a = torch.tensor([[5, 6, 7, 1, 9, 10]])
    b = torch.tensor([[5, 6, 8, 1, 9, 10]])                  # differs only before the BOS
    model.forward_logits(a), model.forward_logits(b)
    assert torch.equal(captured[0][0, 3], captured[1][0, 3])
    assert not torch.equal(captured[0][0, 2], captured[1][0, 2])


def test_bigram_uses_a_reserved_bucket_at_bos_and_window_start() -> None:
    bigram = BigramHash(CFG)
    buckets = bigram.bucket_ids(torch.tensor([[4, 5, 1, 6, 6]]))
    assert buckets[0, 0] == buckets[0, 2] == 63
    assert ((buckets >= 0) & (buckets < 64)).all()


def test_xsa_removes_the_self_value_direction() -> None:
    y, v = torch.randn(2, 5, 4, 8), torch.randn(2, 5, 2, 8)
    out = exclude_self_value(y, v)
    v_n = torch.nn.functional.normalize(v, dim=-1).repeat_interleave(2, dim=2)
    assert (out * v_n).sum(-1).abs().max() < 1e-5
    assert torch.allclose(exclude_self_value(out, v), out, atol=1e-5)


def test_partial_rope_rotates_only_the_first_dims() -> None:
    x = torch.randn(1, 6, 2, 8)
    cos, sin = rotary_tables(6, 4, 10000.0, x.device)
    out = apply_rotary(x, cos, sin, 4)
    assert torch.equal(out[..., 4:], x[..., 4:])
    assert torch.allclose(out[..., :4].norm(dim=-1), x[..., :4].norm(dim=-1), atol=1e-5)
    assert torch.equal(out[:, 0], x[:, 0])                   # position 0: angle 0


def test_xsa_layer_choice_and_init() -> None:
    model = GPT(GPTConfig(vocab_size=96, num_layers=4, model_dim=32, num_heads=4, num_kv_heads=2, rope_dims=4,
                          xsa_layers="last:1", bigram_vocab_size=0, ve_dim=0, smear_gate=False))
    assert [b.attn.use_xsa for b in model.blocks] == [False, False, False, True]
    assert model.bigram is None and model.value_embed is None and model.smear is None
    assert all(b.attn.proj.weight.abs().sum() == 0 and b.mlp.proj.weight.abs().sum() == 0 for b in model.blocks)
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 4 * 6
