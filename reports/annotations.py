"""`--format annotations`: GitHub Actions workflow commands, one per finding.

    ::error file=records/.../train_gpt.py,line=812,title=EVAL-TTT-002 Test-time training ...::message

Violations are `::error`, review findings `::warning`, info `::notice`; a last `::notice` states the
verdict. Values are escaped as GitHub's toolkit does (`escapeData` / `escapeProperty`): `%` -> `%25`,
CR -> `%0D`, LF -> `%0A`, and in properties also `:` -> `%3A`, `,` -> `%2C`.
"""
from __future__ import annotations

from typing import Any, TextIO

from reports.model import AuditResult, Finding, sorted_findings
from reports.render import counts_phrase, location, repo_path, rule_sources, rule_title, rules_option

COMMAND = {"violation": "error", "review": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int) -> str:
    """One workflow command line; properties with empty values are left out."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v not in ("", None))
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def finding_command(result: AuditResult, finding: Finding, rules: Any) -> str:
    title = f"{finding.check} {rule_title(rules, finding)}"
    lines = [finding.message]
    first, *more = finding.evidence or (None,)
    for ev in more:
        lines.append(f"also {location(result, ev)}")
    sources = rule_sources(rules, finding.check)
    if sources:
        lines.append("Ruling: " + "; ".join(sources))
    props: dict[str, str | int] = {"file": repo_path(result, first.file) if first else ""}
    if first and first.line > 0:
        props["line"] = first.line
    props["title"] = title
    return command(COMMAND[finding.severity], "\n".join(lines), **props)


def render(result: AuditResult, out: TextIO, **options: Any) -> None:
    rules = rules_option(options)
    for finding in sorted_findings(result.findings):
        out.write(finding_command(result, finding, rules) + "\n")
    summary = f"{result.target}: {result.verdict} ({counts_phrase(result.findings)})"
    out.write(command("notice", summary, title="pgolf-audit") + "\n")
