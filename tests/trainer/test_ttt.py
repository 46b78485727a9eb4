"""Legal score-first TTT: every token is scored once, before any update that could have seen it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from reference_trainer.data import load_tokens, shard_files
from reference_trainer.evaluate import build_byte_tables, evaluate
from reference_trainer.model import GPT, GPTConfig
from reference_trainer.ttt import ttt_evaluate


@pytest.fixture(scope="module")
def setup(tiny_run: dict, tiny_cfg, data_dir: Path, sp):
    ckpt = torch.load(Path(tiny_run["out_dir"]) / "final_model.pt", map_location="cpu")

    def fresh() -> GPT:
        model = GPT(GPTConfig(**ckpt["gpt_config"]))
        model.load_state_dict(ckpt["state_dict"])
        return model.eval()

    tokens = load_tokens(shard_files(data_dir, "val"))[:1601].long()
    cfg = replace(tiny_cfg, eval_seq_len=64, eval_stride=32, ttt_chunk_tokens=384, ttt_epochs=2, ttt_batch_seqs=4,
                  ttt_lr=0.05)
    return fresh, tokens, build_byte_tables(sp, 512), cfg


def test_training_only_touches_scored_positions(setup) -> None:
    fresh, tokens, tables, cfg = setup
    events: list[tuple[str, int, int]] = []
    result = ttt_evaluate(fresh(), tokens, tables, cfg, torch.device("cpu"),
                          on_score=lambda a, b: events.append(("score", a, b)),
                          on_train=lambda a, b: events.append(("train", a, b)))
    frontier, covered, trained = 0, [], 0
    for kind, a, b in events:
        if kind == "score":
            assert a == frontier                       # chunks are scored left to right, contiguously
            covered.append((a, b))
            frontier = b
        else:
            assert b <= frontier, f"trained on positions {a}..{b} before they were scored (frontier {frontier})"
            trained += 1
    assert covered[0][0] == 0 and frontier == 1600 and result.tokens == 1600
    assert trained > 0
    last_chunk_start = covered[-1][0]
    assert all(b <= last_chunk_start for kind, a, b in events if kind == "train")   # last chunk: score only


def test_without_epochs_ttt_equals_plain_sliding_eval(setup) -> None:
    fresh, tokens, tables, cfg = setup
    plain = evaluate(fresh().forward_logits, tokens, tables, cfg.eval_seq_len, cfg.eval_stride, torch.device("cpu"))
    frozen = ttt_evaluate(fresh(), tokens, tables, replace(cfg, ttt_epochs=0), torch.device("cpu"))
    assert (frozen.tokens, frozen.bytes) == (plain.tokens, plain.bytes)
    assert frozen.loss == pytest.approx(plain.loss, rel=1e-9)


def test_adaptation_changes_weights_and_score(setup) -> None:
    fresh, tokens, tables, cfg = setup
    model = fresh()
    before = model.blocks[0].attn.c_q.weight.detach().clone()
    adapted = ttt_evaluate(model, tokens, tables, cfg, torch.device("cpu"))
    plain = evaluate(fresh().forward_logits, tokens, tables, cfg.eval_seq_len, cfg.eval_stride, torch.device("cpu"))
    assert not torch.equal(before, model.blocks[0].attn.c_q.weight)
    assert adapted.bytes == plain.bytes and adapted.loss != plain.loss
