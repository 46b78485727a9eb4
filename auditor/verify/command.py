"""`pgolf-audit verify DIR`: verify one records folder and report (terminal or JSON).

Exit codes: 0 clean or review (1 for review with --strict), 1 violation, 2 usage or input error.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from auditor.verify.pipeline import VerifyInputError, verify_folder
from reports.model import AuditResult, exit_code, sorted_findings


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `verify` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "verify", help="verify a records folder (files, logs, size, time, seeds, statistics, claims)",
        description="Verify one records/<track>/<date>_<name>/ folder against the challenge rules.")
    p.add_argument("dir", type=Path, metavar="DIR", help="the records folder")
    p.add_argument("--baseline", metavar="DIR|VALUES|ROW",
                   help="compare against another folder, comma-separated val_bpb values, or a leaderboard row "
                        "(PR number such as 1493, or folder name)")
    p.add_argument("--smoke", action="store_true", help="import the script in a sandbox and read its model shape")
    p.add_argument("--rerun", action="store_true", help="rerun the submission's command per seed in a scratch copy "
                   "and compare score and artifact bytes with the claims")
    p.add_argument("--seeds", type=int, nargs="+", help="with --rerun: the seeds to rerun (default: all scored)")
    p.add_argument("--timeout", type=float, default=900.0, help="with --rerun: seconds per seed")
    p.add_argument("--format", choices=("terminal", "json"), default="terminal")
    p.add_argument("--strict", action="store_true", help="exit 1 when a finding needs review")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        outcome = verify_folder(args.dir, baseline=args.baseline, smoke=args.smoke)
    except VerifyInputError as exc:
        print(f"pgolf-audit verify: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pgolf-audit verify: error: {exc.filename or args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if getattr(args, "rerun", False):
        from auditor.verify.rerun import rerun_folder

        rerun = rerun_folder(args.dir, seeds=args.seeds, timeout_s=args.timeout)
        outcome.findings.extend(rerun.findings)
        outcome.block["rerun"] = rerun.block
    result = AuditResult(target=str(args.dir), findings=outcome.findings, verify=outcome.block)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        render_terminal(result, Console())
    return exit_code(result.verdict, args.strict)


def render_terminal(result: AuditResult, console: Console) -> None:
    """A plain rich rendering (to be replaced by the shared terminal renderer)."""
    block = result.verify or {}
    console.print(f"[bold]{block.get('folder', result.target)}[/bold]  track {block.get('track')}  "
                  f"verdict [bold]{result.verdict}[/bold]")
    columns = ("seed", "val_bpb", "val_loss", "artifact_bytes", "train_time_s", "eval_time_s", "log")
    seeds = Table(*columns)
    for s in block.get("seeds", []):
        seeds.add_row(*(str(s[c]) if s[c] is not None else "-" for c in columns))
    console.print(seeds)
    st = block.get("stats", {})
    if st.get("n"):
        line = f"mean {st['mean_bpb']:.6f} BPB, std {st['std_bpb']:.6f} over {st['n']} seed(s)"
        if st.get("baseline"):
            p = st.get("p_one_sided")
            line += (f"; vs {st['baseline']}: delta {st['delta_bpb']:+.6f} BPB, {st['delta_nats']:+.6f} nats "
                     f"({st.get('nats_unit')}), one-sided p " + (f"{p:.4f}" if p is not None else "undefined"))
        console.print(line)
    if block.get("smoke"):
        console.print(f"smoke: {block['smoke']['summary']}")
    for f in sorted_findings(result.findings):
        where = f" ({f.evidence[0].file}:{f.evidence[0].line})" if f.evidence else ""
        console.print(f"{f.severity.upper():9} {f.check:15} {f.message}{where}", markup=False, highlight=False)
