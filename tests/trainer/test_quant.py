"""Quantizer math and the artifact container: ranges, clip search, GPTQ, exact roundtrip, pruning, entropy."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from reference_trainer.artifact import (deserialize, dequantize_state, entropy_report, prune_to_target, quant_plan,
                                        quantize_state, serialize)
from reference_trainer.evaluate import build_byte_tables, evaluate
from reference_trainer.data import load_tokens, shard_files
from reference_trainer.model import GPT, GPTConfig
from reference_trainer.quant import (clip_search_rows, dequantize_rows, fake_quantize_rows, gptq_quantize,
                                     hessian_error, quantize_rows, symbol_entropy_bits)


@pytest.mark.parametrize("bits,limit", [(6, 31), (8, 127)])
def test_per_row_quantization_range_and_exact_dequant(bits: int, limit: int) -> None:
    torch.manual_seed(0)
    w = torch.randn(16, 40) * torch.logspace(-3, 0, 16)[:, None]
    q, s = quantize_rows(w, bits)
    assert q.dtype == torch.int8 and s.dtype == torch.float16 and s.shape == (16,)
    assert q.abs().max() == limit and q.abs().amax(dim=1).min() >= limit - 1   # row max lands on the grid edge
    w_hat = dequantize_rows(q, s)
    assert torch.equal(w_hat, q.float() * s.float()[:, None])
    assert ((w - w_hat).abs() <= s.float()[:, None] / 2 + 1e-6).all()
    assert torch.equal(fake_quantize_rows(w_hat, bits), w_hat)                # idempotent on its grid


def test_clip_search_never_loses_to_row_max() -> None:
    torch.manual_seed(1)
    w = torch.distributions.StudentT(2.0).sample((32, 512))                   # heavy tails: clipping can pay
    q0, s0 = quantize_rows(w, 6)
    q1, s1 = clip_search_rows(w, 6)
    err0 = (w - dequantize_rows(q0, s0)).pow(2).sum(1)
    err1 = (w - dequantize_rows(q1, s1)).pow(2).sum(1)
    assert (err1 <= err0 + 1e-6).all() and (err1 < err0 - 1e-6).any()


def test_gptq_beats_plain_rounding_on_correlated_inputs() -> None:
    torch.manual_seed(2)
    mix = torch.randn(64, 64) / 8
    x = torch.randn(4096, 64) @ (torch.eye(64) + mix)                         # correlated features
    h = x.T @ x / x.shape[0]
    w = torch.randn(48, 64)
    _, scale = clip_search_rows(w, 4)
    q_rtn = torch.clamp(torch.round(w / scale.float()[:, None]), -7, 7)
    q_gptq = gptq_quantize(w, h, 4, scale, block_size=16)
    assert q_gptq.abs().max() <= 7
    e_rtn = hessian_error(w, q_rtn * scale.float()[:, None], h)
    e_gptq = hessian_error(w, dequantize_rows(q_gptq, scale), h)
    assert e_gptq < 0.7 * e_rtn


def test_entropy_of_symbols() -> None:
    assert symbol_entropy_bits(torch.zeros(100, dtype=torch.int8)) == 0.0
    q = torch.arange(-8, 8, dtype=torch.int8).repeat(64)
    assert symbol_entropy_bits(q) == pytest.approx(4.0 * q.numel())


@pytest.fixture(scope="module")
def trained(tiny_run: dict) -> tuple[GPT, dict[str, torch.Tensor]]:
    ckpt = torch.load(Path(tiny_run["out_dir"]) / "final_model.pt", map_location="cpu")
    model = GPT(GPTConfig(**ckpt["gpt_config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), {k: v.float() for k, v in ckpt["state_dict"].items()}


def test_plan_by_module_type(trained) -> None:
    model, _ = trained
    plan = quant_plan(model)
    assert plan["blocks.0.attn.c_q.weight"] == 6 and plan["blocks.3.mlp.proj.weight"] == 6
    assert plan["tok_emb.weight"] == 8 and plan["bigram.embed.weight"] == 8
    assert plan["blocks.0.resid_mix"] == 16 and plan["skip_weights"] == 16


def test_serialize_roundtrip_is_exact(trained) -> None:
    model, state = trained
    tensors = quantize_state(state, quant_plan(model), "gptq_lite")
    blob = serialize(tensors, {"gpt_config": {"n": 1}})
    loaded, meta = deserialize(blob)
    assert meta == {"gpt_config": {"n": 1}} and [t.name for t in loaded] == [t.name for t in tensors]
    for a, b in zip(tensors, loaded):
        assert a.shape == b.shape and a.bits == b.bits
        if a.bits < 16:
            assert torch.equal(a.q, b.q) and torch.equal(a.scale, b.scale)
        else:
            assert torch.equal(a.data, b.data)
    before, after = dequantize_state(tensors), dequantize_state(loaded)
    assert all(torch.equal(before[k], after[k]) for k in before)
    rep = entropy_report(loaded, len(blob))
    assert rep.symbols == sum(t.q.numel() for t in loaded if t.bits < 16)
    assert 0.5 < rep.overhead < 1.5 and rep.entropy_bytes < rep.symbols * 6 / 8


@pytest.mark.parametrize("method", ["rtn", "gptq_lite"])
def test_quantized_bpb_gap_is_small(trained, data_dir: Path, sp, method: str) -> None:
    model, state = trained
    tokens = load_tokens(shard_files(data_dir, "val"))
    tables = build_byte_tables(sp, 512)
    cpu = torch.device("cpu")
    base = evaluate(model.forward_logits, tokens, tables, 128, 128, cpu)
    qmodel = GPT(model.cfg)
    qmodel.load_state_dict(dequantize_state(quantize_state(state, quant_plan(model), method)))
    quant = evaluate(qmodel.eval().forward_logits, tokens, tables, 128, 128, cpu)
    assert 0.0 <= quant.bpb - base.bpb < 0.03


def test_pruning_reaches_a_byte_target(trained) -> None:
    model, state = trained
    tensors = quantize_state(state, quant_plan(model), "gptq_lite")
    meta = {"gpt_config": {}}
    full = len(serialize(tensors, meta, level=3))
    floor = len(prune_to_target(tensors, state, meta, 0, level=3, search_level=3)[3])   # every +/-1 pruned
    assert floor < full
    target = full - (full - floor) // 3
    pruned_tensors, pruned, candidates, blob = prune_to_target(tensors, state, meta, target, level=3, search_level=3)
    assert 0 < pruned < candidates and len(blob) <= target
    changed = 0
    for a, b in zip(tensors, pruned_tensors):
        if a.bits < 16:
            diff = a.q != b.q
            assert (a.q[diff].abs() == 1).all() and (b.q[diff] == 0).all()   # only +/-1 -> 0
            changed += int(diff.sum())
    assert changed == pruned
    untouched = prune_to_target(tensors, state, meta, full + 10, level=3, search_level=3)
    assert untouched[1] == 0 and math.isclose(len(untouched[3]), full)


def test_pruning_with_a_faster_search_compressor_does_not_overprune(trained) -> None:
    """The search level compresses worse than the final one; the amount must still be the final level's."""
    model, state = trained
    tensors = quantize_state(state, quant_plan(model), "gptq_lite")
    meta = {"gpt_config": {}}
    full = len(serialize(tensors, meta, level=19))
    floor = len(prune_to_target(tensors, state, meta, 0, level=19, search_level=19)[3])
    target = full - (full - floor) // 4
    _, exact, candidates, _ = prune_to_target(tensors, state, meta, target, level=19, search_level=19)
    _, fast, _, blob = prune_to_target(tensors, state, meta, target, level=19, search_level=1)
    assert len(serialize(tensors, meta, level=1)) > full          # the premise: level 1 is the worse compressor
    assert len(blob) <= target and 0 < fast < candidates
    assert abs(fast - exact) <= candidates // 50


def test_calibration_from_train_data_and_from_samples(trained, tiny_cfg, data_dir: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from reference_trainer.data import DistributedTokenLoader
    from reference_trainer.export import calibrate
    from reference_trainer.loglines import RunLog, parse
    from reference_trainer.runtime import Runtime

    model, _ = trained
    rt = Runtime(0, 1, 0, torch.device("cpu"), False)
    loader = DistributedTokenLoader(shard_files(data_dir, "train"), 0, 1, rt.device)
    log = RunLog(tmp_path / "calib.log")
    h_train = calibrate(tiny_cfg, rt, model, loader, 1500.0, log)
    h_self = calibrate(replace(tiny_cfg, gptq_calib="selfgen", selfgen_seqs=2, selfgen_len=16), rt, model, loader,
                       1500.0, log)
    linear = {k for k, bits in quant_plan(model).items() if bits == 6}
    assert set(h_train) == set(h_self) == linear
    h = h_train["blocks.0.mlp.fc.weight"]
    assert h.shape == (64, 64) and torch.allclose(h, h.T, atol=1e-5) and torch.linalg.eigvalsh(h).min() > -1e-4
    kinds = [parse(line)[0] for line in (tmp_path / "calib.log").read_text().splitlines()]
    assert kinds == ["gptq_collecting", "gptq_collected", "post_gptq",
                     "gptq_generating", "gptq_generated", "gptq_collected", "post_gptq"]
    over = RunLog(tmp_path / "over.log")
    calibrate(replace(tiny_cfg, max_wallclock_seconds=1.0), rt, model, loader, 1500.0, over)
    assert parse((tmp_path / "over.log").read_text().splitlines()[-1])[0] == "over_budget"
