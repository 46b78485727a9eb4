"""Registry of static checks: one module per technique id, discovered by walking this package.

A check subclasses `Check`, names its TECHNIQUE and the rule ids it reports (RULES, defined in
rules/checks_code.yaml), documents the rule in its docstring (headings below), and turns facts into
`Detection`s. It never prints, formats or decides severities: the engine does that from the rules data.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from functools import lru_cache

from reports.model import Evidence

DOC_HEADINGS = ("What it does", "Why is this bad?", "Example", "Use instead", "References")


@dataclass(frozen=True)
class Detection:
    """One instance of a technique: where it is, whether it runs, whether it is legal."""

    rule: str
    active: bool
    legal: bool | None
    message: str
    evidence: tuple[Evidence, ...]
    confidence: float = 0.9


class Check:
    TECHNIQUE: str = ""
    RULES: tuple[str, ...] = ()
    #: True for a check that reads only `facts.submission` (the source), not the flow facts: both views
    #: would give it the same detections, so it is run on the live view only.
    SOURCE_ONLY: bool = False

    def detect(self, facts) -> list[Detection]:  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def doc(cls) -> str:
        """The check's documentation: its module docstring (what `explain` prints)."""
        return (sys.modules[cls.__module__].__doc__ or "").strip()


def evidence_of(facts, *events, calls: bool = False, limit: int = 6) -> tuple[Evidence, ...]:
    """Deduplicated evidence for trace events, in the order given; with `calls`, each event's call
    sites follow it (outermost first), so a reviewer sees where a helper is invoked from."""
    seen: set[tuple[str, int]] = set()
    out: list[Evidence] = []

    def add(e: Evidence) -> None:
        if (e.file, e.line) not in seen:
            seen.add((e.file, e.line))
            out.append(e)

    for ev in events:
        if ev is None:
            continue
        add(facts.evidence(ev))
        if calls:
            for caller, line in ev.calls:
                add(caller.unit.evidence(line))
    return tuple(out[:limit])


@lru_cache(maxsize=None)
def all_checks() -> tuple[Check, ...]:
    """Every Check subclass in this package, validated: ids, doc headings, one module per technique."""
    from rules import load_rules

    rules = load_rules()
    found: list[Check] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Check) and obj is not Check and obj.__module__ == module.__name__:
                found.append(obj())
    for check in found:
        name = type(check).__name__
        if not check.RULES:
            raise RuntimeError(f"check {name} declares no rule ids")
        for rule_id in check.RULES:
            rule = rules.rule(rule_id)
            if rule.module != type(check).__module__:
                raise RuntimeError(f"rule {rule_id} names module {rule.module!r}, but {name} lives in {type(check).__module__}")
        missing = [h for h in DOC_HEADINGS if h not in check.doc()]
        if missing:
            raise RuntimeError(f"check {name} docstring lacks headings: {', '.join(missing)}")
    return tuple(sorted(found, key=lambda c: c.RULES[0]))
