"""`--format terminal` (the default): a rich report for people at a terminal.

Verdict banner, findings table, each finding's evidence as highlighted source lines with the
ruling it rests on, the techniques the code contains (active or off, legal or not), and for a
records folder the verifier's per-seed table, statistics line, smoke test and rerun table. This output may
change between versions; scripts read `--format json`.
"""
from __future__ import annotations

from typing import Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from reports.model import AuditResult, sorted_findings
from reports.render import (RERUN_HEADERS, SEED_HEADERS, counts_phrase, display_path, headline_bpb, location,
                            rerun_line, rerun_rows, rule_sources, rule_title, rules_option, seed_cells, smoke_line,
                            snippet_language, stats_line)

VERDICT_STYLE = {"CLEAN": "bold green", "REVIEW": "bold yellow", "VIOLATION": "bold red"}
SEVERITY_STYLE = {"violation": "red", "review": "yellow", "info": "cyan"}
LEGAL = {True: ("legal", "green"), False: ("illegal", "red"), None: ("undecided", "yellow")}


def make_console(out: TextIO, width: int | None = None, color: bool | None = None) -> Console:
    """A console on `out`; when `out` is not a terminal: no colour, no wrapping surprises (width 100)."""
    probe = Console(file=out)
    is_tty = probe.is_terminal
    return Console(file=out, width=width or (None if is_tty else 100), force_terminal=color if color else None,
                   no_color=color is False or (color is None and not is_tty), highlight=False,
                   markup=False, emoji=False, soft_wrap=False, legacy_windows=False)


def banner(result: AuditResult) -> Panel:
    verdict = result.verdict
    head = Text.assemble((f" {verdict} ", VERDICT_STYLE[verdict] + " reverse"), "  ", (result.target, "bold"))
    facts = [counts_phrase(result.findings)]
    if result.files:
        facts.append(f"{len(result.files)} file{'s' if len(result.files) != 1 else ''} audited")
    bpb = headline_bpb(result)
    if bpb:
        facts.append(f"{bpb[0]:.5f} BPB" + (f" ({bpb[1]}-seed mean)" if bpb[1] > 1 else " (1 seed)"))
    return Panel(Group(head, Text(" · ".join(facts))), title="pgolf-audit", title_align="left",
                 border_style=VERDICT_STYLE[verdict].split()[-1], box=box.ROUNDED)


def findings_table(result: AuditResult, rules: Any) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    for name, kw in (("#", {"justify": "right"}), ("severity", {}), ("check", {"no_wrap": True}),
                     ("cond", {}), ("conf", {"justify": "right"}), ("finding", {"ratio": 1}),
                     ("where", {"overflow": "fold"})):
        table.add_column(name, **kw)
    for i, f in enumerate(sorted_findings(result.findings), start=1):
        ev = f.evidence[0] if f.evidence else None
        where = (display_path(result, ev.file) + (f":{ev.line}" if ev.line > 0 else "")) if ev else "—"
        table.add_row(str(i), Text(f.severity, SEVERITY_STYLE[f.severity]), f.check, f.condition,
                      f"{f.confidence:.2f}", f.message, where)
    return table


def evidence_blocks(console: Console, result: AuditResult, rules: Any) -> None:
    for i, f in enumerate(sorted_findings(result.findings), start=1):
        console.print(Text.assemble((f"{i}. ", "bold"), (f.check, SEVERITY_STYLE[f.severity] + " bold"),
                                    " ", rule_title(rules, f)))
        for ev in f.evidence:
            console.print(Text(f"   {location(result, ev)}", "dim"))
            if ev.snippet:
                console.print(Syntax(ev.snippet, snippet_language(ev.file), line_numbers=True, start_line=max(ev.line, 1),
                                     theme="ansi_dark", background_color="default", word_wrap=True),
                              style="", overflow="fold")
        sources = rule_sources(rules, f.check)
        if sources:
            console.print(Text(f"   ruling: {'; '.join(sources)}", "dim"))
        console.print()


def techniques_table(result: AuditResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("technique", "runs", "ruling"):
        table.add_column(name)
    for t in sorted(result.techniques, key=lambda t: t.id):
        legal, style = LEGAL[t.legal]
        table.add_row(t.id, Text("active", "bold") if t.active else Text("off", "dim"), Text(legal, style))
    return table


def verify_section(console: Console, result: AuditResult) -> None:
    verify = result.verify or {}
    seeds = verify.get("seeds") or []
    console.print(Text(f"Verification ({verify.get('track') or 'track unknown'})", "bold underline"))
    if seeds:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name in SEED_HEADERS:
            table.add_column(name, justify="right")
        table.add_column("log")
        for seed in seeds:
            cells = [Text(text, "bold red" if over else "") for text, over in seed_cells(seed)]
            table.add_row(*cells, str(seed.get("log") or "—"))
        console.print(table)
    else:
        console.print("  no per-seed results found")
    for label, line in (("statistics", stats_line(result)), ("smoke test", smoke_line(result)),
                        ("rerun", rerun_line(result))):
        if line:
            console.print(Padding(Text(f"{label}: {line}"), (0, 0, 0, 2)))
    rows = rerun_rows(result)
    if rows:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name in RERUN_HEADERS:
            table.add_column(name, justify="left" if name in ("ended", "result") else "right")
        for cells, ok in rows:
            table.add_row(*cells[:-1], Text(cells[-1], "green" if ok else "bold red"))
        console.print(Padding(table, (0, 0, 0, 2)))
    console.print()


def render(result: AuditResult, out: TextIO, **options: Any) -> None:
    rules = rules_option(options)
    console = make_console(out, options.get("width"), options.get("color"))
    console.print(banner(result))
    if result.findings:
        console.print(Text("Findings", "bold underline"))
        console.print(findings_table(result, rules))
        console.print()
        console.print(Text("Evidence", "bold underline"))
        evidence_blocks(console, result, rules)
    if result.techniques:
        console.print(Text("Techniques in the code", "bold underline"))
        console.print(techniques_table(result))
        console.print()
    if result.verify is not None:
        verify_section(console, result)
    for note in result.notes:
        console.print(Text(f"note: {note}", "dim"))
