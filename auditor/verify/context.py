"""What every record check receives (`Context`) and the one way it reports (`Context.finding`).

Severity and condition come from the rule entry in rules/checks_record.yaml, adjusted only by data:
a finding on a folder listed in the rule's `precedents` takes the precedent's severity and cites
it; a submission dated before the rule's `since` is reported as info.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from auditor.verify.evidence import Evidence
from auditor.verify.log_record import Hit, LogRecord, Metric
from reports.model import Evidence as Where
from reports.model import Finding
from rules import RULES_DIR, Rules

RECORD_RULES_FILE = "checks_record.yaml"


@dataclass(frozen=True)
class Precedent:
    pr: int | None  # None: in the repository before pull requests (the launch snapshot)
    folder: str
    severity: str
    note: str


@dataclass(frozen=True)
class RuleExtras:
    """The keys of checks_record.yaml entries that the generic rule loader does not keep."""

    params: dict[str, dict[str, Any]]
    precedents: dict[str, tuple[Precedent, ...]]


@lru_cache(maxsize=4)
def load_extras(path: Path = RULES_DIR / RECORD_RULES_FILE) -> RuleExtras:
    """Read `params` and `precedents` of every entry of rules/checks_record.yaml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    params: dict[str, dict[str, Any]] = {}
    precedents: dict[str, tuple[Precedent, ...]] = {}
    for rule_id, raw in (data.get("rules") or {}).items():
        params[rule_id] = dict(raw.get("params") or {})
        precedents[rule_id] = tuple(
            Precedent(None if p["pr"] is None else int(p["pr"]), str(p["folder"]), str(p["severity"]), str(p["note"]))
            for p in raw.get("precedents") or ()
        )
    return RuleExtras(params, precedents)


def record_track(ev: Evidence) -> bool:
    """Record track unless the path, or (without a track directory) submission.json, says otherwise."""
    if ev.layout.track is not None:
        return ev.layout.track == "record"
    track = str(ev.submission.data.get("track", "")).lower().replace("-", "_")
    return "non_record" not in track and "unlimited" not in track


def submission_date(ev: Evidence) -> dt.date | None:
    if ev.layout.date is not None:
        return ev.layout.date
    raw = str(ev.submission.data.get("date", ""))[:10]
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class Context:
    """One folder's evidence plus the rules it is checked against; every check takes one."""

    ev: Evidence
    rules: Rules
    extras: RuleExtras
    record_track: bool
    date: dt.date | None

    @classmethod
    def build(cls, ev: Evidence, rules: Rules) -> Context:
        return cls(ev, rules, load_extras(), record_track(ev), submission_date(ev))

    def limit(self, name: str) -> Any:
        return self.rules.limit(name)

    def param(self, rule_id: str, key: str) -> Any:
        return self.extras.params[rule_id][key]

    def finding(self, rule_id: str, message: str, evidence: tuple[Where, ...] = (),
                confidence: float = 1.0) -> Finding:
        """A Finding for `rule_id`, with severity from the rule, its precedents and its `since` date."""
        rule = self.rules.rule(rule_id)
        severity = rule.severity
        for p in self.extras.precedents.get(rule_id, ()):
            if p.folder == self.ev.layout.name:
                severity = p.severity
                ref = f"PR #{p.pr}" if p.pr is not None else "the launch snapshot"
                message = f"{message} — tolerated precedent ({ref}): {p.note}"
                break
        else:
            if rule.since is not None and self.date is not None and self.date < rule.since and severity != "info":
                severity = "info"
                message = f"{message} — the folder predates this rule ({rule.since.isoformat()})"
        return Finding(check=rule_id, technique=rule.technique, condition=rule.condition,
                       severity=severity, confidence=confidence, message=message,  # type: ignore[arg-type]
                       evidence=evidence)


def at(log: LogRecord, hit: Hit | None) -> tuple[Where, ...]:
    """Evidence for one log line (empty when the fact has no line)."""
    return (Where(log.name, hit.line, hit.text[:300]),) if hit is not None else ()


def at_line(file: str, line: int, text: str) -> tuple[Where, ...]:
    return (Where(file, line, text[:300]),)


def at_end(log: LogRecord, what: str) -> tuple[Where, ...]:
    """Evidence for something a log lacks: its last line, with a note of what is missing."""
    return (Where(log.name, max(log.lines_total, 1), f"(end of log: {what})"),)


def at_metric(log: LogRecord, metric: Metric | None) -> tuple[Where, ...]:
    return (Where(log.name, metric.line, metric.text[:300]),) if metric is not None else ()


def at_key(ev: Evidence, key: str) -> tuple[Where, ...]:
    """Evidence for a key of submission.json (its line in the file)."""
    if ev.submission.path is None:
        return ()
    line, text = ev.submission.line_of(key)
    return (Where(ev.file(ev.submission.path), line, text[:300]),)
