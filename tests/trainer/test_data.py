"""Shards in the challenge's format, the distributed loader, and `prepare`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from reference_trainer.data import (HEADER_BYTES, MAGIC, DistributedTokenLoader, read_shard, shard_files,
                                    write_shard)


def test_shard_roundtrip_and_header(tmp_path: Path) -> None:
    tokens = np.array([1, 65535, 0, 1234, 7], dtype=np.int64)
    path = tmp_path / "fineweb_train_000000.bin"
    write_shard(path, tokens)
    header = np.fromfile(path, dtype="<i4", count=256)
    assert (header[0], header[1], header[2]) == (MAGIC, 1, 5) and not header[3:].any()
    assert path.stat().st_size == HEADER_BYTES + 2 * 5
    assert read_shard(path).tolist() == tokens.tolist()


def test_bad_shards_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.bin"
    write_shard(path, np.arange(10))
    raw = bytearray(path.read_bytes())
    (tmp_path / "short.bin").write_bytes(bytes(raw[:-2]))
    raw[0] ^= 1
    (tmp_path / "magic.bin").write_bytes(bytes(raw))
    for name in ("short.bin", "magic.bin"):
        with pytest.raises(ValueError):
            read_shard(tmp_path / name)
    with pytest.raises(ValueError):
        write_shard(tmp_path / "big.bin", np.array([70000]))


def test_accumulation_and_ranks_see_the_same_tokens(tmp_path: Path) -> None:
    for i in range(2):
        write_shard(tmp_path / f"fineweb_train_{i:06d}.bin", np.arange(i * 300, i * 300 + 300) % 60000)
    files = shard_files(tmp_path, "train")
    single = DistributedTokenLoader(files, 0, 1, torch.device("cpu"))
    ranks = [DistributedTokenLoader(files, r, 2, torch.device("cpu")) for r in range(2)]
    for _ in range(5):                                     # crosses the shard boundary and wraps around
        xs = [single.next_batch(64, 16, 2) for _ in range(2)]
        ys = [loader.next_batch(64, 16, 1) for loader in ranks]
        for (x1, y1), (x2, y2) in zip(xs, ys):
            assert torch.equal(x1, x2) and torch.equal(y1, y2)
            assert torch.equal(x1[:, 1:], y1[:, :-1])          # targets are inputs shifted by one


def test_prepare_writes_bos_prefixed_documents(data_dir: Path, sp, corpus_path: Path) -> None:
    stats = json.loads((data_dir / "prepare.json").read_text())
    assert stats["vocab_size"] == sp.vocab_size() == 512 and stats["docs_val"] == 300
    val = np.concatenate([read_shard(f) for f in shard_files(data_dir, "val")])
    assert val.size == stats["tokens_val"] and val[0] == sp.bos_id() == 1
    assert int((val == 1).sum()) == 300                       # one BOS per validation document
    first_doc = corpus_path.read_text(encoding="utf-8").splitlines()[0]
    second_bos = int(np.flatnonzero(val == 1)[1])
    assert sp.decode(val[1:second_bos].tolist()) == first_doc
