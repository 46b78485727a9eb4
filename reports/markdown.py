"""`--format markdown`: a pull-request review comment that states findings, never a merge recommendation.

Layout: a hidden marker (`<!-- pgolf-audit:v1 target=... -->`, so a bot can update its earlier
comment), a title with the submission's name and headline BPB, the verdict with a one-line reason,
the commit and audited files, one table row per condition (C1-C4, size, train time, eval time,
seeds/statistics, data, BPB accounting, folder/files) with status, evidence and the ruling it rests
on, the findings with their evidence, the per-seed table, statistics and smoke-test lines, the rerun table, what a
human must still check, and caveats.

Every sentence is derived from the result: a condition no check examined reads "not checked", never
"pass". Evidence becomes permalinks (`{repo_url}/blob/{sha}/{path}#L{line}`) when `repo_url` and
`sha` are given, `file:line` otherwise. Output is deterministic: no time appears unless `timestamp`
is passed. Options: rules, repo_url, sha, name (overrides the title's submission name), timestamp,
tool_version.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TextIO

from reports.model import AuditResult, Evidence, Finding, sorted_findings
from reports.render import (RERUN_HEADERS, SEED_HEADERS, counts_phrase, display_path, headline_bpb, permalink,
                            repo_path, rerun_line, rerun_rows, rule_of, rule_sources, rule_title, rules_option,
                            seed_cells, smoke_line, target_key,
                            snippet_language, stats_line, submission_name, tool_version, verify_seeds,
                            verify_stats)

MARKER = "<!-- pgolf-audit:v1 target={target} -->"
VERDICT_ICON = {"CLEAN": "✅", "REVIEW": "⚠️", "VIOLATION": "❌"}
SEVERITY_ICON = {"violation": "❌", "review": "⚠️", "info": "ℹ️"}
LOW_CONFIDENCE = 0.8  # below this a finding's caveat says the match is heuristic


# --- one row per condition -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    conditions: frozenset[str]
    facts: Callable[[AuditResult, dict[str, Any]], str | None] | None = None  # None: nothing measured
    eval_time: bool | None = None  # TIME rows only: True = evaluation budget, False = training budget


def _max_fact(key: str, limit_key: str, unit: str, spec: str) -> Callable[[AuditResult, dict[str, Any]], str | None]:
    def facts(result: AuditResult, limits: dict[str, Any]) -> str | None:
        if result.verify is None:
            return None
        values = [s[key] for s in verify_seeds(result) if isinstance(s.get(key), (int, float))]
        if not values:
            return ""  # verified, but nothing measured: reported as "no data"
        limit, total = limits.get(limit_key), len(verify_seeds(result))
        over = f"{len(values)} of {total} seeds" if len(values) < total else \
            f"{total} seed{'s' if total != 1 else ''}"
        text = f"max {format(max(values), spec)}{unit} over {over}"
        return text + (f" (limit {limit:,}{unit})" if limit is not None else "")
    return facts


def _stats_fact(result: AuditResult, _limits: dict[str, Any]) -> str | None:
    if result.verify is None:
        return None
    return stats_line(result) or ""


ROWS: tuple[Row, ...] = (
    Row("C1", "C1 causal: a prediction uses only the artifact and earlier tokens", frozenset({"C1"})),
    Row("C2", "C2 normalized: a full distribution over the vocabulary", frozenset({"C2"})),
    Row("C3", "C3 score before update", frozenset({"C3"})),
    Row("C4", "C4 single left-to-right pass", frozenset({"C4"})),
    Row("SIZE", "Artifact size", frozenset({"SIZE"}),
        _max_fact("artifact_bytes", "artifact_bytes_max", " B", ",d")),
    Row("TRAIN", "Training time and hardware", frozenset({"TIME"}),
        _max_fact("train_time_s", "train_seconds_max", " s", ".1f"), eval_time=False),
    Row("EVAL", "Evaluation time", frozenset({"TIME"}),
        _max_fact("eval_time_s", "eval_seconds_max", " s", ".1f"), eval_time=True),
    Row("STATS", "Seeds and statistics", frozenset({"STATS"}), _stats_fact),
    Row("DATA", "Data: no validation data in training, no training data at eval", frozenset({"DATA"})),
    Row("BPB", "BPB accounting", frozenset({"BPB"})),
    Row("FILES", "Submission folder, files and logs", frozenset({"FILES", "LOG", "INPUT"})),
)


def is_eval_time(rule: Any, check: str) -> bool:
    """A TIME rule about the evaluation budget (its name or title speaks of evaluation)."""
    text = f"{rule.name} {rule.title}" if rule else check
    return "eval" in text.lower()


def row_of(finding: Finding, rules: Any) -> str:
    for row in ROWS:
        if finding.condition in row.conditions:
            if row.eval_time is None or row.eval_time == is_eval_time(rule_of(rules, finding.check), finding.check):
                return row.key
    return "OTHER"


def is_code_rule(rule: Any) -> bool:
    """Static checks (auditor/checks) read source; the others are the verifier's (records folder)."""
    return rule.module.startswith("auditor.checks") if rule.module else bool(rule.technique)


def examined(row: Row, result: AuditResult, rules: Any) -> list[str]:
    """Ids of the registry's rules for this row that ran: code rules when code was read, record rules
    when the verifier ran."""
    ids = []
    for rule in rules.checks.values():
        if rule.condition not in row.conditions or rule.status == "removed":
            continue
        if row.eval_time is not None and row.eval_time != is_eval_time(rule, rule.id):
            continue
        if (result.files if is_code_rule(rule) else result.verify is not None):
            ids.append(rule.id)
    return sorted(ids)


# --- small markdown helpers ------------------------------------------------------------------


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def inline(text: str) -> str:
    """Prose from a finding, safe in a comment: no raw HTML, one line."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "").replace("\n", " ")


def code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class Links:
    """Evidence as permalinks when repo_url and sha are known, as `file:line` otherwise."""

    def __init__(self, result: AuditResult, repo_url: str | None, sha: str | None) -> None:
        self.result, self.repo_url, self.sha = result, repo_url, sha

    def file(self, file: str, line: int = 0) -> str:
        text = display_path(self.result, file) + (f":{line}" if line > 0 else "")
        if self.repo_url and self.sha:
            return f"[{text}]({permalink(self.repo_url, self.sha, repo_path(self.result, file), line)})"
        return code(text)

    def evidence(self, ev: Evidence) -> str:
        return self.file(ev.file, ev.line)


# --- sections --------------------------------------------------------------------------------


def title(result: AuditResult, name: str | None = None) -> str:
    name = name or (result.target if result.target.endswith(".py") else submission_name(result))
    bpb = headline_bpb(result)
    if bpb is None:
        return f"## pgolf-audit: {name}"
    mean = f"{bpb[1]}-seed mean" if bpb[1] > 1 else "1 seed"
    return f"## pgolf-audit: {name} — {bpb[0]:.5f} BPB ({mean})"


def verdict_line(result: AuditResult, rules: Any) -> str:
    verdict = result.verdict
    findings = sorted_findings(result.findings)
    head = f"**{VERDICT_ICON[verdict]} {verdict}**"
    if verdict == "CLEAN":
        ran = []
        if result.files:
            ran.append(f"the static audit of {len(result.files)} file{'s' if len(result.files) != 1 else ''}")
        if result.verify is not None:
            ran.append("the records verification")
        infos = sum(f.severity == "info" for f in findings)
        reason = (f"no check in {' and '.join(ran)} reported a problem" if ran else "no check ran") + \
            (f" ({infos} informational note{'s' if infos != 1 else ''})" if infos else "")
        return f"{head} — {reason}."
    worst = [f for f in findings if f.severity == findings[0].severity]
    lead = worst[0]
    reason = f"{rule_title(rules, lead)} ({lead.check})"
    if verdict == "REVIEW":
        reason = "needs a human look: " + reason
    if len(worst) > 1:
        reason += f", and {len(worst) - 1} more {lead.severity}{'s' if len(worst) > 2 else ''}"
    return f"{head} — {reason}."


def provenance(result: AuditResult, links: Links, sha: str | None, repo_url: str | None) -> str:
    parts = []
    if sha:
        parts.append(f"Commit [`{sha[:12]}`]({repo_url.rstrip('/')}/commit/{sha})" if repo_url else f"Commit `{sha[:12]}`")
    if result.files:
        parts.append("audited " + ", ".join(links.file(f) for f in result.files))
    else:
        parts.append(f"target {code(result.target)} (no source file audited)")
    track = (result.verify or {}).get("track")
    if track:
        parts.append(f"track `{track}`")
    return " · ".join(parts)


def technique_facts(result: AuditResult, rules: Any, row: Row) -> str:
    """Active techniques whose rules belong to this row's conditions, e.g. "`score_first_ttt` active (legal)"."""
    in_row = {r.technique for r in rules.checks.values() if r.technique and r.condition in row.conditions}
    words = {True: "legal", False: "illegal", None: "undecided"}
    return ", ".join(f"{code(t.id)} active ({words[t.legal]})"
                     for t in sorted(result.techniques, key=lambda t: t.id) if t.active and t.id in in_row)


def conditions_table(result: AuditResult, rules: Any, links: Links) -> tuple[list[str], list[str]]:
    """The table lines, and the rows a human must still look at (not checked / no data)."""
    by_row: dict[str, list[Finding]] = {}
    for f in sorted_findings(result.findings):
        by_row.setdefault(row_of(f, rules), []).append(f)
    rows = list(ROWS)
    if "OTHER" in by_row:
        others = frozenset(f.condition for f in by_row["OTHER"])
        rows.append(Row("OTHER", "Other: " + ", ".join(sorted(others)), others))

    lines = ["| Condition | Status | Evidence | Ruling |", "|---|---|---|---|"]
    gaps: list[str] = []
    unchecked: list[str] = []
    for row in rows:
        findings = by_row.get(row.key, [])
        ids = examined(row, result, rules)
        facts = row.facts(result, rules.limits) if row.facts else None
        if findings:
            worst = findings[0].severity
            status = f"{SEVERITY_ICON[worst]} {worst}"
            evidence = "<br>".join(
                f"{f.check}: {inline(f.message)}" + (f" ({links.evidence(f.evidence[0])})" if f.evidence else "")
                for f in findings)
            if facts:
                evidence = f"{facts}<br>{evidence}"
            ruling = "<br>".join(
                f"{check}: {'; '.join(rule_sources(rules, check)) or 'no ruling recorded'}"
                for check in dict.fromkeys(f.check for f in findings))
        elif not ids:
            status, evidence, ruling = "➖ not checked", facts or "—", "—"
            unchecked.append(row.label)
        elif facts == "":
            status, evidence, ruling = "❔ no data", "nothing measured in the logs", ", ".join(ids)
            gaps.append(f"{row.label}: the verifier found nothing to measure in the logs.")
        else:
            status = "✅ no finding"
            evidence = facts or technique_facts(result, rules, row) or \
                ("code checks only; no logs were verified" if row.facts and facts is None else "—")
            ruling = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
        lines.append(f"| {cell(row.label)} | {status} | {cell(evidence)} | {cell(ruling)} |")
    if unchecked:
        gaps.append("Not checked by any rule that ran: " + "; ".join(unchecked) + ".")
    return lines, gaps


def findings_section(result: AuditResult, rules: Any, links: Links) -> list[str]:
    lines = ["### Findings", ""]
    for i, f in enumerate(sorted_findings(result.findings), start=1):
        lines.append(f"{i}. {SEVERITY_ICON[f.severity]} **{f.check}** {rule_title(rules, f)} — "
                     f"{f.condition}, {f.severity}, confidence {f.confidence:.2f}  ")
        lines.append(f"   {inline(f.message)}")
        for ev in f.evidence:
            lines.append(f"   - {links.evidence(ev)}")
            if ev.snippet:
                fence = "````" if "```" in ev.snippet else "```"
                lines.append(f"     {fence}{snippet_language(ev.file)}")
                lines.extend(f"     {text}" for text in ev.snippet.splitlines())
                lines.append(f"     {fence}")
        sources = rule_sources(rules, f.check)
        lines.append(f"   - Ruling: {'; '.join(sources) if sources else 'none recorded in the rules registry'}")
    lines.append("")
    return lines


def seeds_section(result: AuditResult, links: Links) -> list[str]:
    lines = ["### Seeds", ""]
    seeds = verify_seeds(result)
    if seeds:
        lines.append("| " + " | ".join(SEED_HEADERS) + " | log |")
        lines.append("|" + "---:|" * len(SEED_HEADERS) + "---|")
        for seed in seeds:
            cells = [f"**{text}** (over)" if over else text for text, over in seed_cells(seed)]
            log = links.file(seed["log"]) if seed.get("log") else "—"
            lines.append("| " + " | ".join(cells) + f" | {log} |")
    else:
        lines.append("No per-seed result was found in the logs.")
    lines.append("")
    stats = stats_line(result)
    if stats:
        lines.append(f"**Statistics:** {stats}  ")
    lines.append(f"**Smoke test:** {smoke_line(result)}")
    lines.append("")
    rerun = rerun_line(result)
    if rerun:
        lines += [f"**Rerun:** {inline(rerun)}", "", "| " + " | ".join(RERUN_HEADERS) + " |",
                  "|" + "---:|" * (len(RERUN_HEADERS) - 2) + "---|---|"]
        lines += ["| " + " | ".join(cell(text) for text in cells) + " |" for cells, _ in rerun_rows(result)]
        lines.append("")
    return lines


def techniques_section(result: AuditResult) -> list[str]:
    words = {True: "legal", False: "illegal"}
    lines = ["### Techniques in the code", ""]
    for t in sorted(result.techniques, key=lambda t: t.id):
        checks = sorted({f.check for f in result.findings if f.technique == t.id})
        judged = words.get(t.legal) or (f"judged case by case: see {', '.join(checks)}" if checks
                                        else "no ruling decides it")
        lines.append(f"- {code(t.id)}: {'active' if t.active else 'present, off'}; {judged}")
    lines.append("")
    return lines


def human_checks(result: AuditResult, rules: Any, links: Links, gaps: list[str]) -> list[str]:
    items = [f"{f.check} {rule_title(rules, f)}: {inline(f.message)}" +
             (f" ({links.evidence(f.evidence[0])})" if f.evidence else "")
             for f in sorted_findings(result.findings) if f.severity == "review"]
    items += gaps
    if not items:
        return []
    return ["### What a human must still check", "", *[f"- {item}" for item in items], ""]


def caveats(result: AuditResult) -> list[str]:
    items = []
    if result.files:
        ran = [what for what, key in (("the smoke test", "smoke"), ("the rerun", "rerun"))
               if result.verify is not None and result.verify.get(key)]
        items.append("Code findings come from reading the code (static analysis); the code was not run"
                     + (f" except in {' and '.join(ran)} reported above." if ran else "."))
    low = [f for f in sorted_findings(result.findings) if f.confidence < LOW_CONFIDENCE]
    for f in low:
        items.append(f"{f.check} was matched with confidence {f.confidence:.2f}: the pattern is there, "
                     "its effect is less certain.")
    for t in sorted(result.techniques, key=lambda t: t.id):
        if not t.active:
            items.append(f"{code(t.id)} is in the code but off under the effective environment; the audit judged "
                         "the code as it runs" + ("; switched on, it would be illegal." if t.legal is False else "."))
    stats = verify_stats(result)
    if result.verify is not None and stats and not stats.get("baseline"):
        items.append("No baseline was given, so no significance test against an earlier record was run.")
    items += [inline(note) for note in result.notes]
    if not items:
        return []
    return ["### Caveats", "", *[f"- {item}" for item in items], ""]


def render(result: AuditResult, out: TextIO, **options: Any) -> None:
    rules = rules_option(options)
    repo_url, sha = options.get("repo_url"), options.get("sha")
    links = Links(result, repo_url, sha)
    table, gaps = conditions_table(result, rules, links)
    lines = [MARKER.format(target=target_key(result).replace("--", "- -")), title(result, options.get("name")), "",
             verdict_line(result, rules), "", provenance(result, links, sha, repo_url), "",
             "### Conditions", "", *table, ""]
    if result.findings:
        lines += findings_section(result, rules, links)
    if result.verify is not None:
        lines += seeds_section(result, links)
    if result.techniques:
        lines += techniques_section(result)
    lines += human_checks(result, rules, links, gaps)
    lines += caveats(result)
    footer = (f"<sub>pgolf-audit {options.get('tool_version') or tool_version()} ({counts_phrase(result.findings)}). "
              "This comment states findings; merging is the maintainers' decision.")
    if options.get("timestamp"):
        footer += f" Generated {options['timestamp']}."
    lines.append(footer + "</sub>")
    out.write("\n".join(lines) + "\n")
