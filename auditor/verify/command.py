"""`pgolf-audit verify DIR`: verify one records folder and report (terminal or JSON).

Exit codes: 0 clean or review (1 for review with --strict), 1 violation, 2 usage or input error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from auditor.verify.evidence import Evidence
from auditor.verify.pipeline import VerifyInputError, verify_folder
from auditor.verify.rerun import RerunOutcome, rerun_folder
from reports.model import AuditResult, exit_code
from reports.render import FORMATS, render


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
    p.add_argument("--nproc", type=int, help="with --rerun: processes per seed (default: the README command's "
                   "--nproc_per_node, else 1)")
    p.add_argument("--data", type=Path, metavar="PATH", help="with --rerun: the challenge's data/ folder on this "
                   "machine (linked at ./data in the scratch copy and substituted into the command's data paths)")
    p.add_argument("--format", choices=FORMATS, default="terminal")
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
        if args.data is not None and not args.data.is_dir():
            print(f"pgolf-audit verify: error: {args.data}: --data is not a directory", file=sys.stderr)
            return 2
        rerun = _rerun_with_progress(args, outcome.evidence)
        outcome.findings.extend(rerun.findings)
        outcome.block["rerun"] = rerun.block
    result = AuditResult(target=str(args.dir), findings=outcome.findings, verify=outcome.block)
    render(result, args.format, sys.stdout)
    return exit_code(result.verdict, args.strict)


def _rerun_with_progress(args: argparse.Namespace, evidence: Evidence | None) -> RerunOutcome:
    """`rerun_folder` with a progress bar on stderr (shown only at a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = Console(stderr=True)
    with Progress(TextColumn("rerunning seeds"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=not err.is_terminal) as bar:
        task = bar.add_task("rerun", total=None)
        return rerun_folder(args.dir, seeds=args.seeds, timeout_s=args.timeout, nproc=args.nproc, data=args.data,
                            progress=lambda done, total: bar.update(task, completed=done, total=total),
                            evidence=evidence)
