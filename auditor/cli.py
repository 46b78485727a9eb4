"""`pgolf-audit`: audit a submission, verify a records folder, gate a PR, sweep many, explain a rule.

    pgolf-audit PATH [--env KEY=VAL ...] [--format terminal|json|markdown|sarif|annotations] [--strict]
    pgolf-audit verify DIR [--baseline DIR|VALUES|ROW] [--smoke]
    pgolf-audit gate [--base REV] [--head REV]
    pgolf-audit scan PATH...
    pgolf-audit explain ID

Exit codes: 0 clean (or review), 1 violation (or review with --strict), 2 usage or input error.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Sequence

from reports.model import exit_code
from reports.render import FORMATS, render, utc_now

SUBCOMMANDS = {
    "audit": "auditor.cli",
    "verify": "auditor.verify.command",
    "gate": "auditor.gate",
    "scan": "auditor.scan",
    "explain": "auditor.explain",
}


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"pgolf-audit: --env expects KEY=VAL, got {pair!r}")
        env[key] = value
    return env


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit a train_gpt.py or a records folder (the default command)")
    p.add_argument("path", type=Path, help="a .py file or a records folder")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VAL", help="environment for feature flags (repeatable)")
    p.add_argument("--format", choices=FORMATS, default="terminal")
    p.add_argument("--strict", action="store_true", help="exit 1 on REVIEW as well")
    p.add_argument("--no-verify", action="store_true", help="static code audit only, also for folders")
    p.add_argument("--baseline", help="for folders: baseline records folder, values or leaderboard row")
    p.add_argument("--repo-url", help="repository URL for permalinks (markdown)")
    p.add_argument("--sha", help="commit for permalinks (markdown)")
    p.add_argument("--timestamp", action="store_true",
                   help="state the audit's time in the markdown footer (without it the output is deterministic)")


def run(args: argparse.Namespace) -> int:
    from .api import audit_path
    from .source import InputError
    from .verify import VerifyInputError

    try:
        result = audit_path(args.path, env=parse_env(args.env), verify=not args.no_verify, baseline=args.baseline)
    except (InputError, VerifyInputError) as exc:
        print(f"pgolf-audit: {exc}", file=sys.stderr)
        return 2
    options = {k: v for k, v in (("repo_url", args.repo_url), ("sha", args.sha),
                                 ("timestamp", utc_now() if args.timestamp else None)) if v}
    render(result, args.format, sys.stdout, **options)
    return exit_code(result.verdict, args.strict)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "audit")
    parser = argparse.ArgumentParser(prog="pgolf-audit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {name: importlib.import_module(path) for name, path in SUBCOMMANDS.items()}
    for module in dict.fromkeys(modules.values()):
        module.add_parser(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code not in (0, None) else 0
    try:
        return modules[args.command].run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
