"""Late QAT: after the switch, a compiled graph really applies int6 fake quantization (no recompile)."""

from __future__ import annotations

import copy

import torch
from torch._dynamo.utils import counters

from reference_trainer.model import GPT, CastedLinear, GPTConfig
from reference_trainer.quant import fake_quantize_rows

CFG = GPTConfig(vocab_size=64, num_layers=2, model_dim=32, num_heads=4, num_kv_heads=2, rope_dims=4,
                bigram_vocab_size=0, ve_dim=0)


def random_model() -> GPT:
    torch.manual_seed(0)
    model = GPT(CFG)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.train()


def quantized_copy(model: GPT) -> GPT:
    """The reference: same model with every CastedLinear weight replaced by its int6 grid value, QAT off."""
    ref = copy.deepcopy(model)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, CastedLinear):
                m.weight.copy_(fake_quantize_rows(m.weight, 6))
    ref.set_qat(False)
    return ref


def test_switch_changes_a_compiled_graph_without_recompiling() -> None:
    torch._dynamo.reset()
    counters.clear()
    model = random_model()
    compiled = torch.compile(model, backend="aot_eager", dynamic=False)   # Dynamo traces; no C++ toolchain
    ids = torch.randint(0, 64, (2, 16))
    before = compiled(ids, ids)
    graphs = counters["stats"]["unique_graphs"]
    assert torch.allclose(before, copy.deepcopy(model)(ids, ids))

    model.set_qat(True)
    after = compiled(ids, ids)
    assert counters["stats"]["unique_graphs"] == graphs                   # same graph, new flag value
    assert not torch.allclose(before, after)
    reference = quantized_copy(model)
    ref_loss = reference(ids, ids)
    assert torch.allclose(after, ref_loss, atol=1e-5)                     # the noise is really applied

    after.backward()
    ref_loss.backward()
    w, w_ref = model.blocks[0].attn.c_q.weight, reference.blocks[0].attn.c_q.weight
    assert torch.allclose(w.grad, w_ref.grad, atol=1e-5)                  # straight-through gradient

    model.set_qat(False)
    assert torch.allclose(compiled(ids, ids), before)


def test_qat_is_inactive_in_eval_mode() -> None:
    model = random_model()
    ids = torch.randint(0, 64, (1, 8))
    model.eval()
    plain = model.forward_logits(ids)
    model.set_qat(True)
    assert torch.equal(model.forward_logits(ids), plain)
