"""BPB against direct computations: a hand-made tokenizer and model, window coverage, the real tokenizer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from reference_trainer.data import read_shard, shard_files
from reference_trainer.evaluate import build_byte_tables, evaluate, window_plan
from reference_trainer.model import GPT, GPTConfig

PIECES = ["<pad>", "<s>", "</s>", "<unk>", "<0xC3>", "<0xA9>", "<0x21>",  # 0-6: control x3, unk, 3 bytes
          "\u2581the", "\u2581cat", "s", "\u2581", "caf", "\u00e9", ".", "\u2581\u00fcber", "42"]


class HandMadeTokenizer:
    """The five SentencePiece queries build_byte_tables asks, over a fixed piece list."""

    def vocab_size(self) -> int:
        return len(PIECES)

    def id_to_piece(self, i: int) -> str:
        return PIECES[i]

    def is_control(self, i: int) -> bool:
        return i in (0, 1, 2)

    def is_unknown(self, i: int) -> bool:
        return i == 3

    def is_unused(self, i: int) -> bool:
        return False

    def is_byte(self, i: int) -> bool:
        return 4 <= i <= 6


def direct_text_bytes(ids: list[int]) -> bytes:
    """Decode like SentencePiece: byte pieces are raw bytes, U+2581 is a space, and a space right after a
    control/unknown token (a document start) is not text."""
    out, prev = bytearray(), None
    for i in ids:
        if i <= 3:
            prev = i
            continue
        if 4 <= i <= 6:
            out += bytes([int(PIECES[i][3:5], 16)])
        else:
            text = PIECES[i]
            if text.startswith("\u2581") and (prev is None or prev <= 3):
                text = text[1:]
            out += text.replace("\u2581", " ").encode("utf-8")
        prev = i
    return bytes(out)


class BigramModel(nn.Module):
    """logits(t) = table[token t]: simple enough to score by hand."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0)))

    def forward_logits(self, ids: Tensor) -> Tensor:
        return self.table[ids]


STREAM = [1, 7, 8, 9, 13, 10, 11, 4, 5, 6, 1, 14, 10, 15, 13, 1, 11, 12, 8, 3, 7, 13]


@pytest.mark.parametrize("seq_len,stride", [(64, 64), (5, 2), (4, 4), (3, 1)])
def test_hand_made_tokenizer_and_model_match_direct_computation(seq_len: int, stride: int) -> None:
    tables = build_byte_tables(HandMadeTokenizer(), len(PIECES))
    model = BigramModel(len(PIECES))
    tokens = torch.tensor(STREAM)
    result = evaluate(model.forward_logits, tokens, tables, seq_len, stride, torch.device("cpu"), batch_seqs=3)
    nll = 0.0
    for prev, target in zip(STREAM[:-1], STREAM[1:]):
        logits = model.table[prev].detach().double()
        nll -= float(logits[target] - torch.logsumexp(logits, 0))
    n_bytes = len(direct_text_bytes(STREAM))
    assert result.tokens == len(STREAM) - 1 and result.bytes == n_bytes
    assert result.loss == pytest.approx(nll / (len(STREAM) - 1), rel=1e-6)
    assert result.bpb == pytest.approx(nll / math.log(2) / n_bytes, rel=1e-6)


def test_byte_tables_follow_bpb_002() -> None:
    t = build_byte_tables(HandMadeTokenizer(), 20)
    assert t.base_bytes.tolist()[:16] == [0, 0, 0, 0, 1, 1, 1, 3, 3, 1, 0, 3, 2, 1, 5, 2]
    assert t.is_boundary[:4].all() and not t.is_boundary[4:16].any() and t.is_boundary[16:].all()
    assert t.has_space.nonzero().flatten().tolist() == [7, 8, 10, 14]
    prev, target = torch.tensor([1, 9, 3]), torch.tensor([8, 8, 8])        # "▁cat" after BOS / "s" / <unk>
    assert t.target_bytes(prev, target).tolist() == [3, 4, 3]


@pytest.mark.parametrize("total", [1, 5, 63, 64, 65, 200, 1000, 1001])
@pytest.mark.parametrize("seq_len,stride", [(64, 64), (64, 16), (128, 64), (16, 1)])
def test_sliding_windows_score_every_position_exactly_once(total: int, seq_len: int, stride: int) -> None:
    windows = window_plan(total, seq_len, stride)
    counts = np.zeros(total, dtype=int)
    for w in windows:
        assert 0 <= w.start <= w.score_from < w.end <= total and w.end - w.start <= seq_len
        counts[w.score_from:w.end] += 1
        if w.score_from > 0:                                         # later windows keep L - stride context
            assert w.score_from - w.start >= min(seq_len - stride, w.score_from)
    assert (counts == 1).all()
    assert all(w.end - w.start == min(seq_len, total) for w in windows)   # full windows: one compiled shape


def test_sliding_eval_matches_per_position_forwards(data_dir: Path, sp) -> None:
    """Batched, masked window scoring == one forward per scored position on exactly its context."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, num_layers=2, model_dim=32, num_heads=4, num_kv_heads=2, rope_dims=4,
                          bigram_vocab_size=64, bigram_dim=8, ve_dim=8, ve_layers="1")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    tokens = torch.from_numpy(read_shard(shard_files(data_dir, "val")[0])[:121].astype(np.int64))
    tables = build_byte_tables(sp, 512)
    seq_len, stride = 24, 8
    result = evaluate(model.forward_logits, tokens, tables, seq_len, stride, torch.device("cpu"), batch_seqs=5)
    nll, nbytes = 0.0, 0
    with torch.no_grad():
        for w in window_plan(120, seq_len, stride):
            for p in range(w.score_from, w.end):
                logits = model.forward_logits(tokens[w.start:p + 1][None])[0, -1].double()
                nll -= float(torch.log_softmax(logits, -1)[tokens[p + 1]])
                nbytes += int(tables.target_bytes(tokens[p:p + 1], tokens[p + 1:p + 2]))
    assert result.tokens == 120 and result.bytes == nbytes
    assert result.loss == pytest.approx(nll / 120, rel=1e-5)


def test_real_tokenizer_bytes_equal_decoded_text(data_dir: Path, sp) -> None:
    """Over the whole validation stream, LUT bytes == UTF-8 bytes of the decoded documents (BPB-002)."""
    val = torch.from_numpy(np.concatenate([read_shard(f) for f in shard_files(data_dir, "val")]).astype(np.int64))
    tables = build_byte_tables(sp, 512)
    lut_bytes = int(tables.target_bytes(val[:-1], val[1:]).sum())
    starts = (val == sp.bos_id()).nonzero().flatten().tolist() + [len(val)]
    text_bytes = sum(len(sp.decode(val[a + 1:b].tolist()).encode("utf-8")) for a, b in zip(starts, starts[1:]))
    assert lut_bytes == text_bytes
