"""Run every check over a submission's facts and build the result: findings, techniques, verdict."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace

from reports.model import AuditResult, Finding, Technique
from rules import Rules, load_rules

from .checks import Detection, all_checks
from .facts import Facts

_DATE = re.compile(r"(20\d\d-\d\d-\d\d)_")


def submission_date(facts: Facts) -> dt.date | None:
    """The records-folder date (`2026-03-22_name/`), else submission.json's `date`."""
    m = _DATE.search(str(facts.submission.root.resolve() / facts.submission.headline))
    if m:
        try:
            return dt.date.fromisoformat(m.group(1))
        except ValueError:
            pass
    meta = facts.submission.root / "submission.json"
    try:
        raw = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        return dt.date.fromisoformat(str(raw.get("date", ""))[:10]) if isinstance(raw, dict) else None
    except (ValueError, OSError):
        return None


def run_checks(facts: Facts, rules: Rules | None = None) -> tuple[list[Finding], list[Technique]]:
    rules = rules or load_rules()
    date = submission_date(facts)
    findings: list[Finding] = []
    by_technique: dict[str, list[Detection]] = {}
    for check in all_checks():
        for d in _detections(check, facts):
            rule = rules.rule(d.rule)
            technique = rule.technique
            if technique:
                by_technique.setdefault(technique, []).append(d)
            findings.append(_finding(d, rule, date))
    return findings, [_technique(t, ds) for t, ds in sorted(by_technique.items())]


def _detections(check, facts: Facts) -> list[Detection]:
    """Live detections as found; those only the full view sees are present but switched off."""
    live = check.detect(facts)
    if facts.full is None or check.SOURCE_ONLY:
        return live
    seen = {(d.rule, d.evidence[:1]) for d in live}
    off = [replace(d, active=False) for d in check.detect(facts.full) if (d.rule, d.evidence[:1]) not in seen]
    return live + off


def _finding(d: Detection, rule, date: dt.date | None) -> Finding:
    severity = rule.severity
    message = d.message
    if d.legal is True:
        severity = "info"
    elif not d.active:
        severity = "info"
        message = f"present but not active: {message}"
    elif d.legal is None and severity == "violation":
        severity = "review"  # undecided: a human must look
    elif rule.since and date and date < rule.since and rule.severity == "review":
        severity = "info"
        message = f"{message} (the submission predates the ruling of {rule.since.isoformat()})"
    return Finding(rule.id, rule.technique, rule.condition, severity, d.confidence, message, d.evidence)  # type: ignore[arg-type]


def _technique(technique: str, detections: list[Detection]) -> Technique:
    active = [d for d in detections if d.active]
    pool = active or detections
    if any(d.legal is False for d in pool):
        legal: bool | None = False
    elif pool and all(d.legal is True for d in pool):
        legal = True
    else:
        legal = None
    return Technique(technique, bool(active), legal)


def inactive_notes(facts: Facts) -> list[str]:
    """Feature flags as read: every environment variable the code reads, with the value used."""
    notes = []
    for read in facts.env_reads:
        value = facts.env.get(read.key)
        if value is not None:
            notes.append(f"{read.key}={value} (given)")
    return sorted(set(notes))


def build_result(target: str, facts: Facts) -> AuditResult:
    findings, techniques = run_checks(facts)
    result = AuditResult(target=target, findings=findings, techniques=techniques,
                         files=[u.label for u in facts.submission.units])
    result.notes.extend(inactive_notes(facts))
    return result
