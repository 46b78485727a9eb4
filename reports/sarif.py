"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run, tool "pgolf-audit"; `tool.driver.rules` holds the registry entry of every rule a finding
cites (id, kebab-case name, title, condition, default level, rulings). Each finding is one result:
level error/warning/note for violation/review/info, its first evidence as the location (paths
relative to the repository root when the target is given that way), further evidence as related
locations, and a partial fingerprint that survives line shifts. A finding without evidence points at
the audited target itself.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any, TextIO
from urllib.parse import quote

from reports.model import AuditResult, Evidence, Finding, sorted_findings
from reports.render import repo_path, rule_of, rules_option, target_key, tool_version

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"violation": "error", "review": "warning", "info": "note"}
PROBLEM_SEVERITY = {"violation": "error", "review": "warning", "info": "recommendation"}


def rule_descriptor(check: str, rules: Any, fallback: Finding) -> dict[str, Any]:
    rule = rule_of(rules, check)
    if rule is None:  # an id the registry lacks: describe it from the finding
        return {
            "id": check,
            "shortDescription": {"text": fallback.message or check},
            "defaultConfiguration": {"level": LEVEL[fallback.severity]},
            "properties": {"tags": [fallback.condition], "problem.severity": PROBLEM_SEVERITY[fallback.severity]},
        }
    rulings = "; ".join(rule.sources) if rule.sources else "none recorded"
    since = f" (since {rule.since.isoformat()})" if rule.since else ""
    body = (f"Condition: {rule.condition}. Severity: {rule.severity}{since}.\n\nRulings: {rulings}.\n\n"
            f"Run `pgolf-audit explain {rule.id}` for the full rule.")
    tags = [rule.condition] + ([rule.technique] if rule.technique else []) + ["parameter-golf"]
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. Condition {rule.condition}. Rulings: {rulings}."},
        "help": {"text": f"{rule.title}\n\n{body}", "markdown": f"**{rule.title}**\n\n{body}"},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"tags": tags, "problem.severity": PROBLEM_SEVERITY[rule.severity]},
    }


def artifact_location(path: str) -> dict[str, Any]:
    """A percent-encoded URI: relative to the checkout (%SRCROOT%), or a file:// URI for an absolute path."""
    if posixpath.isabs(path):
        return {"uri": "file://" + quote(path)}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def physical_location(result: AuditResult, ev: Evidence | None) -> dict[str, Any]:
    loc: dict[str, Any] = {"artifactLocation": artifact_location(repo_path(result, ev.file) if ev else target_key(result))}
    if ev and ev.line > 0:
        region: dict[str, Any] = {"startLine": ev.line}
        if ev.snippet:
            region["snippet"] = {"text": ev.snippet}
        loc["region"] = region
    return loc


def fingerprint(result: AuditResult, finding: Finding) -> str:
    """Stable across line shifts: rule id, file and the evidence text (not its line number)."""
    ev = finding.evidence[0] if finding.evidence else None
    key = "\x1f".join([finding.check, repo_path(result, ev.file) if ev else target_key(result),
                       (ev.snippet.strip() or str(ev.line)) if ev else finding.message])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def sarif_log(result: AuditResult, **options: Any) -> dict[str, Any]:
    rules = rules_option(options)
    findings = sorted_findings(result.findings)
    firsts: dict[str, Finding] = {}
    for f in findings:
        firsts.setdefault(f.check, f)
    ids = sorted(firsts)
    index = {check: i for i, check in enumerate(ids)}

    results = []
    for f in findings:
        first, *more = f.evidence or (None,)
        entry: dict[str, Any] = {
            "ruleId": f.check,
            "ruleIndex": index[f.check],
            "level": LEVEL[f.severity],
            "message": {"text": f.message or f.check},
            "locations": [{"physicalLocation": physical_location(result, first)}],
            "partialFingerprints": {"pgolfAudit/v1": fingerprint(result, f)},
            "properties": {"condition": f.condition, "confidence": round(float(f.confidence), 3),
                           **({"technique": f.technique} if f.technique else {})},
        }
        if more:
            entry["relatedLocations"] = [
                {"id": i, "physicalLocation": physical_location(result, ev), "message": {"text": "also here"}}
                for i, ev in enumerate(more, start=1)]
        results.append(entry)

    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "pgolf-audit",
            "version": options.get("tool_version") or tool_version(),
            "rules": [rule_descriptor(check, rules, firsts[check]) for check in ids],
        }},
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {"target": target_key(result), "verdict": result.verdict},
    }
    if options.get("repo_url") and options.get("sha"):
        run["versionControlProvenance"] = [{"repositoryUri": options["repo_url"], "revisionId": options["sha"]}]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(result: AuditResult, out: TextIO, **options: Any) -> None:
    json.dump(sarif_log(result, **options), out, indent=2, ensure_ascii=False)
    out.write("\n")
