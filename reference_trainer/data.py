"""The challenge's token shards: writer, reader, a distributed loader, and `prepare` (text -> shards).

Shard format (openai/parameter-golf `data/`, the `fineweb_{train,val}_NNNNNN.bin` files): a header of
256 little-endian int32 (magic 20240520, version 1, token count, rest zero) followed by the tokens as
little-endian uint16. Every document is prefixed with BOS (id 1); no EOS. Validation is the first
documents of the corpus, training the rest; the tokenizer is trained on training documents only.

Tokenizer settings follow the challenge's SentencePiece BPE (byte fallback, split digits, nmt_nfkc,
no dummy prefix, pad/bos/eos/unk = 0/1/2/3), so the byte look-up tables of BPB-002 apply unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
SHARD_TOKENS = 100_000_000  # the challenge's shard size


# ---------------------------------------------------------------------------- shard files

def write_shard(path: Path, tokens: np.ndarray) -> None:
    """Write one shard; `tokens` must fit in uint16."""
    tokens = np.asarray(tokens)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= 2**16):
        raise ValueError("token ids must be in [0, 65535] for uint16 shards")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0], header[1], header[2] = MAGIC, VERSION, tokens.size
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype("<u2").tobytes())


def read_shard(path: Path) -> np.ndarray:
    """Read one shard, validating magic, version and size; returns uint16 tokens."""
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    if header.size != HEADER_INTS or int(header[0]) != MAGIC or int(header[1]) != VERSION:
        raise ValueError(f"{path}: not a version-{VERSION} token shard (magic {MAGIC})")
    count = int(header[2])
    expected = HEADER_BYTES + 2 * count
    if Path(path).stat().st_size != expected:
        raise ValueError(f"{path}: size {Path(path).stat().st_size} != header-implied {expected}")
    return np.fromfile(path, dtype="<u2", count=count, offset=HEADER_BYTES)


def shard_files(data_dir: Path | str, split: str) -> list[Path]:
    files = sorted(Path(data_dir).glob(f"fineweb_{split}_*.bin"))
    if not files:
        raise FileNotFoundError(f"no fineweb_{split}_*.bin shards in {data_dir}")
    return files


def load_tokens(files: list[Path]) -> torch.Tensor:
    """All tokens of `files`, concatenated in order (int64 is left to the caller)."""
    return torch.from_numpy(np.concatenate([read_shard(f) for f in files]).astype(np.int32))


# ---------------------------------------------------------------------------- training loader

class TokenStream:
    """Reads shards in order, forever, handing out contiguous spans."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.index = 0
        self.tokens = read_shard(files[0])
        self.pos = 0

    def take(self, n: int) -> np.ndarray:
        parts: list[np.ndarray] = []
        while n > 0:
            if self.pos >= self.tokens.size:
                self.index = (self.index + 1) % len(self.files)
                self.tokens, self.pos = read_shard(self.files[self.index]), 0
                continue
            k = min(n, self.tokens.size - self.pos)
            parts.append(self.tokens[self.pos:self.pos + k])
            self.pos, n = self.pos + k, n - k
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


class DistributedTokenLoader:
    """Each call takes one span per rank from a shared stream; rank r keeps the r-th span.

    With `local = global_tokens // (world_size * grad_accum)`, a single process with grad_accum=k sees
    exactly the tokens that k ranks with grad_accum=1 see, so DDP and accumulation are interchangeable.
    """

    def __init__(self, files: list[Path], rank: int, world_size: int, device: torch.device) -> None:
        self.files, self.rank, self.world_size, self.device = files, rank, world_size, device
        self.stream = TokenStream(files)

    def next_batch(self, global_tokens: int, seq_len: int, grad_accum: int) -> tuple[torch.Tensor, torch.Tensor]:
        local = global_tokens // (self.world_size * grad_accum)
        if local < seq_len or local % seq_len:
            raise ValueError(f"per-rank micro-batch of {local} tokens is not a positive multiple of {seq_len}")
        span = local + 1
        chunk = self.stream.take(span * self.world_size)[self.rank * span:(self.rank + 1) * span]
        t = torch.from_numpy(chunk.astype(np.int64))
        x = t[:-1].view(-1, seq_len)   # (B, T) inputs
        y = t[1:].view(-1, seq_len)    # (B, T) next-token targets
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def reset(self) -> None:
        self.stream = TokenStream(self.files)


# ---------------------------------------------------------------------------- prepare

def iter_documents(paths: Iterable[Path], mode: str = "line") -> Iterator[str]:
    """Documents from text files: one per non-empty line, per blank-line paragraph, or per file."""
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        if mode == "file":
            parts = [text]
        elif mode == "paragraph":
            parts = text.split("\n\n")
        elif mode == "line":
            parts = text.splitlines()
        else:
            raise ValueError(f"unknown document mode {mode!r}")
        for part in parts:
            if part.strip():
                yield part.strip()


def train_tokenizer(docs: list[str], vocab_size: int, prefix: Path) -> Path:
    """Train a SentencePiece BPE model with the challenge's settings; returns the .model path.

    Raises ValueError, naming the smallest workable size, when `vocab_size` cannot hold the 256 byte-fallback
    pieces, the special ids and the text's characters."""
    import sentencepiece as spm

    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(docs), model_prefix=str(prefix), model_type="bpe",
            vocab_size=vocab_size, character_coverage=0.999, byte_fallback=True, split_digits=True,
            normalization_rule_name="nmt_nfkc", add_dummy_prefix=False,
            pad_id=0, bos_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False, minloglevel=2,
        )
    except RuntimeError as exc:
        need = re.search(r"smaller than required_chars\. \d+ vs (\d+)", str(exc))
        if need:
            raise ValueError(f"--vocab-size {vocab_size} is too small for this text: SentencePiece needs at least "
                             f"{need.group(1)} (256 byte pieces, the special ids and the text's characters)") from exc
        raise ValueError(f"SentencePiece could not train a {vocab_size}-piece model: {exc}") from exc
    return prefix.with_suffix(".model")


def _write_split(docs: list[list[int]], out_dir: Path, split: str, bos_id: int, shard_tokens: int) -> int:
    stream = np.concatenate([np.asarray([bos_id] + ids, dtype=np.int64) for ids in docs]) if docs else \
        np.zeros(0, dtype=np.int64)
    for i, start in enumerate(range(0, max(stream.size, 1), shard_tokens)):
        write_shard(out_dir / f"fineweb_{split}_{i:06d}.bin", stream[start:start + shard_tokens])
    return int(stream.size)


def prepare(text_files: list[Path], vocab_size: int, out_dir: Path, *, tokenizer: Path | None = None,
            val_fraction: float = 0.1, val_docs: int | None = None, doc_mode: str = "line",
            shard_tokens: int = SHARD_TOKENS) -> dict[str, object]:
    """Tokenize `text_files` into `out_dir`: tokenizer.model, fineweb_{val,train}_*.bin, prepare.json.

    Everything that can fail on the inputs (documents, tokenizer) is settled before `out_dir` is touched."""
    import tempfile

    import sentencepiece as spm

    docs = list(iter_documents(text_files, doc_mode))
    n_val = val_docs if val_docs is not None else max(1, int(len(docs) * val_fraction))
    if not 0 < n_val < len(docs):
        raise ValueError(f"need at least one validation and one training document, got {len(docs)} docs")
    with tempfile.TemporaryDirectory() as tmp:
        if tokenizer is None:
            model_bytes = train_tokenizer(docs[n_val:], vocab_size, Path(tmp) / "tokenizer").read_bytes()
        else:
            model_bytes = Path(tokenizer).read_bytes()
    try:
        sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    except RuntimeError as exc:
        raise ValueError(f"{tokenizer}: not a SentencePiece model ({exc})") from exc
    if tokenizer is not None and sp.vocab_size() > vocab_size:
        raise ValueError(f"{tokenizer} has {sp.vocab_size()} pieces, more than --vocab-size {vocab_size}")
    encoded = sp.encode(docs)

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in list(out_dir.glob("fineweb_*.bin")):
        stale.unlink()
    (out_dir / "tokenizer.model").write_bytes(model_bytes)
    stats = {
        "vocab_size": int(sp.vocab_size()), "bos_id": int(sp.bos_id()),
        "docs_val": n_val, "docs_train": len(docs) - n_val,
        "tokens_val": _write_split(encoded[:n_val], out_dir, "val", sp.bos_id(), shard_tokens),
        "tokens_train": _write_split(encoded[n_val:], out_dir, "train", sp.bos_id(), shard_tokens),
        "sources": [str(p) for p in text_files], "doc_mode": doc_mode,
    }
    (out_dir / "prepare.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats
