"""Shared fixtures for the trainer tests: a synthetic corpus, a 512-piece SentencePiece model and shards,
the tiny config, and one tiny end-to-end run (with legal TTT) that several tests read."""

from __future__ import annotations

import importlib.util
import random
from dataclasses import replace
from pathlib import Path

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("sentencepiece") is None:
    collect_ignore_glob = ["test_*.py"]   # the [train] extra is not installed: nothing here can run
else:
    import sentencepiece as spm
    import torch

    from reference_trainer.config import PRESETS, TrainConfig
    from reference_trainer.data import prepare

    # One intra-op thread: on this shared 2-core machine, two OpenMP threads competing with other
    # processes stall at every barrier (steps measured 5-10x slower); one thread keeps the time predictable.
    torch.set_num_threads(1)

NOUNS = ("cat dog bird river house garden teacher window bridge letter market winter engine violin "
         "forest island doctor mirror candle ocean village storm painter kitchen").split()
VERBS = "saw found painted carried followed opened remembered visited described borrowed".split()
ADJS = "old small red quiet bright heavy strange green careful naïve".split()
EXTRAS = ("café", "über", "déjà vu", "3.14", "1999", "42", "☃", "日本", "—", "½")


def synthetic_corpus(n_docs: int, seed: int = 0) -> str:
    """Documents of 1-4 simple sentences over a small vocabulary, with digits and non-ASCII text."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sentences = []
        for _ in range(rng.randint(1, 4)):
            words = ["the", rng.choice(ADJS), rng.choice(NOUNS), rng.choice(VERBS), "a", rng.choice(NOUNS)]
            if rng.random() < 0.3:
                words.append(rng.choice(EXTRAS))
            if rng.random() < 0.3:
                words += ["near", "the", rng.choice(NOUNS)]
            sentences.append(" ".join(words).capitalize() + rng.choice(".!?"))
        docs.append(" ".join(sentences))
    return "\n".join(docs) + "\n"


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(synthetic_corpus(3000), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, corpus_path: Path) -> Path:
    out = tmp_path_factory.mktemp("data") / "tiny_sp512"
    prepare([corpus_path], 512, out, val_docs=300)
    return out


@pytest.fixture(scope="session")
def sp(data_dir: Path):
    return spm.SentencePieceProcessor(model_file=str(data_dir / "tokenizer.model"))


@pytest.fixture(scope="session")
def tiny_cfg(data_dir: Path, sp) -> TrainConfig:
    """The tiny preset bound to the test data, without a wallclock cap (so runs are reproducible)."""
    return replace(PRESETS["tiny"], data_dir=str(data_dir), vocab_size=int(sp.vocab_size()),
                   max_wallclock_seconds=0.0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_cfg: TrainConfig) -> dict:
    """One in-process tiny run (60 steps, GPTQ on train data, sliding eval, legal TTT)."""
    from reference_trainer.train import run

    out = tmp_path_factory.mktemp("run")
    summary = run(replace(tiny_cfg, seed=7, ttt_enabled=True), out)
    summary["out_dir"] = out
    return summary
