"""`pgolf-train`: prepare data, run a seed, print a config.

    pgolf-train prepare --text corpus.txt --vocab-size 512 --out data/tiny
    pgolf-train run --data data/tiny --preset tiny --seed 42 --out runs/tiny
    pgolf-train run --data data/sp1024 --preset record --seed 42 --nproc 8 --out runs/seed42
    pgolf-train config --preset record --set num_layers=9
    pgolf-train bundle --out train_gpt.py          # the one-file script a submission's seeds run
    pgolf-train pack runs/seed1 runs/seed2 runs/seed3 --name MyRun --author A --github-id a

Each subcommand is a pair (`add_<name>(sub)`, `run_<name>(args) -> int`) registered in SUBCOMMANDS,
so `pack` and `bundle` (in pack.py) are entries like the others. Exit codes: 0 success, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from reference_trainer.config import (
    PRESETS,
    aligned_block,
    load_config,
    parse_assignments,
)
from reference_trainer.pack import add_bundle, add_pack, run_bundle, run_pack


class UsageError(Exception):
    """Bad arguments or inputs: reported in one line, exit code 2."""


def add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="train or load a SentencePiece model and write train/val shards")
    p.add_argument("--text", nargs="+", required=True, type=Path, help="UTF-8 text files")
    p.add_argument("--vocab-size", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="data directory to write")
    p.add_argument("--tokenizer", type=Path, help="existing .model to use instead of training one")
    p.add_argument("--val-fraction", type=float, default=0.1, help="leading share of documents for validation")
    p.add_argument("--val-docs", type=int, help="leading number of documents for validation (overrides)")
    p.add_argument("--docs", choices=("line", "paragraph", "file"), default="line", help="what one document is")
    p.add_argument("--shard-tokens", type=int, default=100_000_000)


def run_prepare(args: argparse.Namespace) -> int:
    from reference_trainer.data import prepare

    missing = [str(p) for p in args.text if not p.is_file()]
    if missing:
        raise UsageError(f"no such text file: {', '.join(missing)}")
    try:
        stats = prepare(args.text, args.vocab_size, args.out, tokenizer=args.tokenizer,
                        val_fraction=args.val_fraction, val_docs=args.val_docs, doc_mode=args.docs,
                        shard_tokens=args.shard_tokens)
    except (OSError, ValueError) as exc:      # unreadable or non-UTF-8 text, bad tokenizer, too small a vocab
        raise UsageError(f"prepare: {exc}") from exc
    print(f"prepared {args.out}: vocab {stats['vocab_size']}, val {stats['docs_val']} docs / "
          f"{stats['tokens_val']} tokens, train {stats['docs_train']} docs / {stats['tokens_train']} tokens")
    return 0


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train one seed, write RUN_DIR/train_seed<S>.log and the artifact")
    p.add_argument("--data", type=Path, required=True, help="directory written by `prepare`")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--seed", type=int)
    p.add_argument("--nproc", type=int, default=1, help="processes (torchrun; NCCL on GPUs, gloo on CPU)")
    p.add_argument("--no-progress", action="store_true", help="no live progress bar")
    _add_config_args(p)


def _relaunch_under_torchrun(nproc: int, argv: list[str]) -> int:
    argv = list(argv)
    i = argv.index("--nproc") if "--nproc" in argv else None
    if i is not None:
        del argv[i:i + 2]
    argv = [a for a in argv if not a.startswith("--nproc=")]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "reference_trainer.cli", *argv]
    return subprocess.call(cmd)


def run_run(args: argparse.Namespace) -> int:
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        return _relaunch_under_torchrun(args.nproc, args.argv)
    from reference_trainer.console import Console
    from reference_trainer.train import run

    overrides = parse_assignments(args.set)
    overrides["data_dir"] = str(args.data)
    if args.seed is not None:
        overrides["seed"] = str(args.seed)
    try:
        cfg = load_config(args.preset, os.environ, overrides)
    except (KeyError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    summary = run(cfg, args.out, Console(enabled=True, progress=not args.no_progress))
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"final val_bpb {summary['final_bpb']:.8f}  artifact {summary['artifact_bytes']} bytes "
              f"+ code {summary['code_bytes']} bytes  log {summary['log_path']}")
    return 0


def add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the resolved configuration")
    _add_config_args(p)


def run_config(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.preset, os.environ, parse_assignments(args.set))
    except (KeyError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    print("\n".join(aligned_block(cfg)))
    return 0


SUBCOMMANDS = {
    "prepare": (add_prepare, run_prepare),
    "run": (add_run, run_run),
    "config": (add_config, run_config),
    "pack": (add_pack, run_pack),
    "bundle": (add_bundle, run_bundle),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pgolf-train", description="the reference trainer of pgolf-audit")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in SUBCOMMANDS.values():
        add(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return SUBCOMMANDS[args.command][1](args)
    except UsageError as exc:
        print(f"pgolf-train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
