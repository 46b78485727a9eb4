"""`pgolf-audit explain ID`: the rule, its source, where the check lives and how it reads."""
from __future__ import annotations

import argparse
import importlib
import sys

from rules import load_rules


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="print a rule's documentation (by rule id or technique id)")
    p.add_argument("id", nargs="?", help="rule id (EVAL-TTT-002) or technique id (prequant_ttt); omit to list all")


def explain(rule_id: str) -> str:
    rules = load_rules()
    matches = [r for r in rules.checks.values() if r.id.lower() == rule_id.lower() or r.technique == rule_id or r.name == rule_id]
    if not matches:
        raise KeyError(rule_id)
    blocks = []
    for rule in matches:
        lines = [f"{rule.id}  {rule.name}", f"  {rule.title}",
                 f"  condition: {rule.condition}   severity: {rule.severity}" + (f"   technique: {rule.technique}" if rule.technique else ""),
                 f"  implemented in: {rule.module}"]
        if rule.since:
            lines.append(f"  since: {rule.since.isoformat()}")
        lines += ["  sources:"] + [f"    - {s}" for s in rule.sources]
        doc = _module_doc(rule.module)
        if doc:
            lines += ["", doc]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _module_doc(module: str) -> str:
    try:
        return (importlib.import_module(module).__doc__ or "").strip() if module else ""
    except ImportError:
        return ""


def run(args: argparse.Namespace) -> int:
    if not args.id:
        for rule in sorted(load_rules().checks.values(), key=lambda r: r.id):
            print(f"{rule.id:22} {rule.severity:9} {rule.technique or '-':18} {rule.title}")
        return 0
    try:
        print(explain(args.id))
    except KeyError:
        print(f"pgolf-audit: unknown rule or technique id {args.id!r} (see `pgolf-audit explain`)", file=sys.stderr)
        return 2
    return 0
