"""Parse every record folder of openai/parameter-golf and report what the verifier understood.

Usage:
    python benchmarks/records_parse.py [RECORDS_TREE] [--mirror GIT_DIR] [--rev REV] [--unknown N]

RECORDS_TREE is a checkout or an extracted tree holding `records/track_*/<folder>` (or the
`records/` directory itself). Without it the tree is extracted from the bare mirror
(`git archive REV records | tar -x`) into a temporary directory. Prints how many folders, logs and
seeds were read, the lines no grammar pattern explains (metric-looking ones in full, the rest as
shapes), the verification verdicts, and every size/time/seed violation with its rule id. Figures
are printed, never asserted; tests do not need the mirror.
"""
from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auditor.verify import verify_folder
from auditor.verify.evidence import gather
from auditor.verify.folder import discover
from auditor.verify.log_grammar import METRIC_WORDS
from rules import load_rules

DEFAULT_MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
WATCHED_FAMILIES = ("SIZE-", "TIME-", "STAT-004")


def _extract(mirror: Path, rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(mirror), "archive", rev, "records"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "records"


def _folders(tree: Path) -> list[Path]:
    records = tree / "records" if (tree / "records").is_dir() else tree
    return sorted(d for track in sorted(records.glob("track_*")) if track.is_dir()
                  for d in track.iterdir() if d.is_dir())


def _shape(line: str) -> str:
    return re.sub(r"\d+(?:\.\d+)?", "N", line.strip())[:120]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", nargs="?", type=Path, help="checkout or extracted records tree")
    ap.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="bare git mirror to extract from")
    ap.add_argument("--rev", default="HEAD", help="revision of the mirror (default HEAD)")
    ap.add_argument("--unknown", type=int, default=25, help="how many unexplained line shapes to list")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="records-parse-") as tmp:
        if args.tree is not None:
            tree = args.tree
        elif args.mirror.is_dir():
            tree = _extract(args.mirror, args.rev, Path(tmp))
        else:
            print(f"error: no records tree given and no mirror at {args.mirror}", file=sys.stderr)
            return 2
        return _report(_folders(tree), args.unknown)


def _report(folders: list[Path], top: int) -> int:
    rules = load_rules()
    totals = collections.Counter()
    shapes: collections.Counter[str] = collections.Counter()
    metric_like: list[str] = []
    verdicts: collections.Counter[str] = collections.Counter()
    by_rule: collections.Counter[str] = collections.Counter()
    watched: list[str] = []
    slowest = (0.0, "")
    for folder in folders:
        layout = discover(folder, rules)
        ev = gather(layout)
        totals["folders"] += 1
        totals["logs"] += len(ev.logs) + len(ev.unreadable)
        totals["train_logs"] += sum(1 for log in ev.logs if log.is_train_log)
        totals["seeds"] += len(ev.runs)
        totals["scored_seeds"] += sum(1 for r in ev.runs if r.metric is not None)
        totals["folders_without_seeds"] += not ev.runs
        for log in ev.logs:
            totals["lines"] += log.lines_total
            totals["source_lines"] += log.lines_source
            totals["unknown_lines"] += len(log.unknown)
            for lineno, text in log.unknown:
                if METRIC_WORDS.search(text):
                    metric_like.append(f"{layout.track or '?'}/{folder.name}/{log.name}:{lineno}: {text[:160]}")
                else:
                    shapes[_shape(text)] += 1
        t0 = time.perf_counter()
        outcome = verify_folder(folder, rules=rules)
        spent = time.perf_counter() - t0
        slowest = max(slowest, (spent, folder.name))
        verdict = max((f.severity for f in outcome.findings), key=["info", "review", "violation"].index,
                      default="clean")
        verdicts[f"{layout.track}:{verdict}"] += 1
        for f in outcome.findings:
            by_rule[f"{f.check}:{f.severity}"] += 1
            if f.severity == "violation" and f.check.startswith(WATCHED_FAMILIES):
                watched.append(f"{folder.name}: {f.check} {f.message}")
    print(f"folders: {totals['folders']}  logs: {totals['logs']}  train logs: {totals['train_logs']}  "
          f"seeds: {totals['seeds']} (scored {totals['scored_seeds']})  "
          f"folders without a seed: {totals['folders_without_seeds']}")
    print(f"lines: {totals['lines']:,}  in embedded source: {totals['source_lines']:,}  "
          f"unexplained: {totals['unknown_lines']:,} ({len(metric_like)} metric-looking)")
    print(f"slowest folder: {slowest[1]} ({slowest[0]:.2f} s)")
    print("verdicts:", ", ".join(f"{k}={v}" for k, v in sorted(verdicts.items())))
    print("findings by rule:", ", ".join(f"{k}={v}" for k, v in sorted(by_rule.items())))
    print(f"\nsize/time/seed violations ({len(watched)}):")
    for line in watched:
        print("  " + line)
    print(f"\nmetric-looking unexplained lines ({len(metric_like)}):")
    for line in metric_like:
        print("  " + line)
    print(f"\nmost frequent other unexplained line shapes (of {len(shapes)}):")
    for shape, n in shapes.most_common(top):
        print(f"  {n:6d}  {shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
