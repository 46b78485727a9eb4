"""The one result model every part of pgolf-audit produces and every renderer reads.

A check reports `Finding`s; the auditor and the verifier collect them into an `AuditResult`.
`AuditResult.to_json()` is the versioned public contract (schema "pgolf-audit/1"); renderers
(terminal, JSON, markdown, SARIF, annotations) only read these values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA = "pgolf-audit/1"

Severity = Literal["violation", "review", "info"]
Verdict = Literal["CLEAN", "REVIEW", "VIOLATION"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "review": 1, "violation": 2}


@dataclass(frozen=True)
class Evidence:
    """One place a reviewer can click: a file (relative to the audited target), a line, its text."""

    file: str
    line: int
    snippet: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "snippet": self.snippet}


@dataclass(frozen=True)
class Finding:
    """What a check found.

    `check` is the rule id (e.g. "EVAL-TTT-002", "SIZE-001"); `technique` is the fixed-vocabulary
    technique id (e.g. "prequant_ttt") or "" for folder/log checks; `condition` names the condition
    or family the rule belongs to (C1..C4, SIZE, TIME, STATS, DATA, FILES, BPB, LOG, INPUT).
    """

    check: str
    technique: str
    condition: str
    severity: Severity
    confidence: float
    message: str
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "technique": self.technique,
            "condition": self.condition,
            "severity": self.severity,
            "confidence": round(float(self.confidence), 3),
            "message": self.message,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class Technique:
    """A technique the code contains: `active` under the effective environment, `legal` when decided."""

    id: str
    active: bool
    legal: bool | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "active": self.active, "legal": self.legal}


@dataclass
class AuditResult:
    """Everything known about one audited target (a file or a records folder)."""

    target: str
    findings: list[Finding] = field(default_factory=list)
    techniques: list[Technique] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # audited source files, headline script first
    verify: dict[str, Any] | None = None  # the verifier's structured block, when it ran
    notes: list[str] = field(default_factory=list)  # human-readable context (flags applied, ...)

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.findings)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "target": self.target,
            "verdict": self.verdict,
            "techniques": [t.to_json() for t in self.techniques],
            "findings": [f.to_json() for f in sorted_findings(self.findings)],
        }
        if self.verify is not None:
            out["verify"] = self.verify
        return out


def verdict_of(findings: list[Finding]) -> Verdict:
    """VIOLATION if any finding is a violation, REVIEW if any needs review, CLEAN otherwise."""
    worst = max((SEVERITY_ORDER[f.severity] for f in findings), default=0)
    return {0: "CLEAN", 1: "REVIEW", 2: "VIOLATION"}[worst]  # type: ignore[return-value]


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by check id and first evidence line: a stable order for every renderer."""

    def key(f: Finding) -> tuple[int, str, str, int]:
        first = f.evidence[0] if f.evidence else Evidence("", 0)
        return (-SEVERITY_ORDER[f.severity], f.check, first.file, first.line)

    return sorted(findings, key=key)


def exit_code(result_verdict: Verdict, strict: bool = False) -> int:
    """Linter-style exit codes: 0 clean (or review), 1 violation (or review with --strict)."""
    if result_verdict == "VIOLATION":
        return 1
    if result_verdict == "REVIEW" and strict:
        return 1
    return 0
