"""`pgolf-audit explain ID`: the rule, its source, where the check lives and how it reads.

A code check's module docstring is its page (What it does / Why is this bad? / Example / Use instead /
References). Record and gate rules share modules, so their text is the docstring of the function
that implements the id (its first line names the id), followed by the rule entry's `example` and
`fix` under the same Example / Use instead headings.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import re
import sys
import textwrap
from functools import cache

from auditor.verify.context import load_extras
from rules import Rule, load_rules

PAGE_HEADING = "What it does"  # a module docstring with this heading is a check's page (auditor.checks)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="print a rule's documentation (by rule id or technique id)")
    p.add_argument("id", nargs="?", help="rule id (EVAL-TTT-002) or technique id (prequant_ttt); omit to list all")


def explain(rule_id: str) -> str:
    rules = load_rules()
    matches = [r for r in rules.checks.values() if r.id.lower() == rule_id.lower() or r.technique == rule_id or r.name == rule_id]
    if not matches:
        raise KeyError(rule_id)
    return "\n\n".join(_block(rule) for rule in matches)


def _block(rule: Rule) -> str:
    where, doc = _documentation(rule)
    lines = [f"{rule.id}  {rule.name}", f"  {rule.title}",
             f"  condition: {rule.condition}   severity: {rule.severity}" + (f"   technique: {rule.technique}" if rule.technique else ""),
             f"  implemented in: {where}"]
    if rule.since:
        lines.append(f"  since: {rule.since.isoformat()}")
    lines += ["  sources:"] + [f"    - {s}" for s in rule.sources]
    if doc:
        lines += ["", doc]
    if rule.example.strip():  # verbatim: log lines, JSON, listings
        lines += ["", "Example", textwrap.indent(rule.example.strip("\n"), "    ")]
    if rule.fix.strip():  # prose
        lines += ["", "Use instead", textwrap.fill(" ".join(rule.fix.split()), 100, initial_indent="    ",
                                                   subsequent_indent="    ")]
    precedents = load_extras().precedents.get(rule.id, ())
    if precedents:
        lines += ["", "Precedents (merged folders this rule would flag; reported at the severity shown)"]
        lines += [f"    {f'#{p.pr}' if p.pr is not None else 'launch'} {p.folder}: {p.severity}. {p.note}"
                  for p in precedents]
    return "\n".join(lines)


def _documentation(rule: Rule) -> tuple[str, str]:
    """(where the check lives, the text that documents it): the module's page for a code check, else
    the docstring of the function implementing the id, else (no such function) the module docstring."""
    doc = _module_doc(rule.module)
    if PAGE_HEADING in doc:
        return rule.module, doc
    found = check_function(rule.module, rule.id)
    if found is not None:
        qualname, fdoc = found
        return f"{rule.module}.{qualname}", fdoc
    return rule.module, doc


def check_function(module: str, rule_id: str) -> tuple[str, str] | None:
    """(qualified name, docstring) of the function in `module` whose docstring's first line names
    `rule_id`. One that names it at the start ("TIME-004 / TIME-GPTQ-001: ...") wins over one that
    names it later in the line, and both over a helper that says "<id>'s ..."; then source order."""
    named = re.compile(rf"(?<![\w-]){re.escape(rule_id)}(?![\w-])")
    best: tuple[int, str, str] | None = None
    for qualname, doc in _function_docs(module):
        first = doc.split("\n", 1)[0]
        m = named.search(first)
        if m is None:
            continue
        if first[m.end():].startswith("'s"):
            rank = 2
        elif re.fullmatch(r"[A-Z0-9\-\s/,]*", first[:m.start()]):
            rank = 0
        else:
            rank = 1
        if best is None or rank < best[0]:
            best = (rank, qualname, doc)
    return (best[1], best[2]) if best else None


@cache
def _function_docs(module: str) -> tuple[tuple[str, str], ...]:
    """(qualified name, cleaned docstring) of every documented function and method in `module`'s
    source, in source order. The source is parsed, not imported."""
    try:
        spec = importlib.util.find_spec(module) if module else None
    except (ImportError, ValueError):
        return ()
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ()
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ()
    out: list[tuple[str, str]] = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    out.append((prefix + node.name, doc.strip()))
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return tuple(out)


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
