"""The challenge's limits, conditions and rulings as versioned YAML data, with a small typed loader.

`challenge.yaml` holds the limits; every `checks*.yaml` holds rule entries keyed by id. Code reads
rules only through `load_rules()`; severities and sources are never hard-coded in checks.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parent
SEVERITIES = ("violation", "review", "info")


@dataclass(frozen=True)
class Rule:
    """One check's metadata: what `explain` prints and what severity a finding carries."""

    id: str
    name: str  # kebab-case, reads right after "allow" (e.g. "training-on-unscored-validation-tokens")
    title: str
    condition: str  # C1..C4, SIZE, TIME, STATS, DATA, FILES, BPB, LOG, INPUT
    severity: str  # violation | review | info
    technique: str = ""  # fixed technique id for code checks, "" for record checks
    module: str = ""  # dotted module that implements the check
    sources: tuple[str, ...] = ()  # rulings: "valerio-oai on #462 (2026-03-24)", "README", ...
    since: _dt.date | None = None  # date of the ruling; submissions dated earlier are reported as info
    status: str = "stable"  # stable | preview | removed
    example: str = ""  # record/gate rules: a minimal input that triggers it (log lines, JSON, folder listing)
    fix: str = ""  # record/gate rules: what to do instead


@dataclass(frozen=True)
class Rules:
    version: int
    limits: dict[str, Any]
    tracks: dict[str, str]
    folder_pattern: str
    base_requirements: tuple[str, ...]
    hardware_record: str
    checks: dict[str, Rule]

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.checks[rule_id]
        except KeyError:
            raise KeyError(f"unknown rule id {rule_id!r} (not in rules/checks*.yaml)") from None

    def limit(self, name: str) -> Any:
        return self.limits[name]


def _parse_rule(rule_id: str, raw: dict[str, Any], origin: Path) -> Rule:
    missing = [k for k in ("name", "title", "condition", "severity") if k not in raw]
    if missing:
        raise ValueError(f"{origin.name}: rule {rule_id} lacks {', '.join(missing)}")
    if raw["severity"] not in SEVERITIES:
        raise ValueError(f"{origin.name}: rule {rule_id} has severity {raw['severity']!r}")
    not_text = [k for k in ("example", "fix") if not isinstance(raw.get(k, ""), str)]
    if not_text:
        raise ValueError(f"{origin.name}: rule {rule_id} has non-text {', '.join(not_text)}")
    since = raw.get("since")
    if isinstance(since, str):
        since = _dt.date.fromisoformat(since)
    return Rule(
        id=rule_id,
        name=raw["name"],
        title=raw["title"],
        condition=raw["condition"],
        severity=raw["severity"],
        technique=raw.get("technique", ""),
        module=raw.get("module", ""),
        sources=tuple(raw.get("sources", ())),
        since=since,
        status=raw.get("status", "stable"),
        example=raw.get("example", ""),
        fix=raw.get("fix", ""),
    )


@lru_cache(maxsize=None)
def load_rules(directory: str | None = None) -> Rules:
    """Read challenge.yaml and every checks*.yaml; fail loudly on duplicate or malformed ids."""
    base = Path(directory) if directory else RULES_DIR
    challenge = yaml.safe_load((base / "challenge.yaml").read_text(encoding="utf-8"))
    checks: dict[str, Rule] = {}
    for path in sorted(base.glob("checks*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule_id, raw in (data.get("rules") or {}).items():
            if rule_id in checks:
                raise ValueError(f"{path.name}: rule id {rule_id} is defined twice")
            checks[rule_id] = _parse_rule(rule_id, raw, path)
    return Rules(
        version=int(challenge["version"]),
        limits=dict(challenge["limits"]),
        tracks=dict(challenge["tracks"]),
        folder_pattern=challenge["folder_pattern"],
        base_requirements=tuple(challenge["base_requirements"]),
        hardware_record=challenge["hardware_record"],
        checks=checks,
    )
