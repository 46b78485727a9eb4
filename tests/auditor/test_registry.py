"""The check registry, the rules data and the fixtures agree: every code rule has one implementing
check, every check documents itself, and every technique has fixtures that fire and that must not."""
from __future__ import annotations

import yaml

from auditor.checks import DOC_HEADINGS, all_checks
from auditor.explain import explain
from rules import RULES_DIR

from .fixtures import all_fixtures


def _code_rules() -> dict[str, dict]:
    return yaml.safe_load((RULES_DIR / "checks_code.yaml").read_text(encoding="utf-8"))["rules"]


def test_every_code_rule_has_exactly_one_check_and_back() -> None:
    owners: dict[str, str] = {}
    for check in all_checks():
        for rule_id in check.RULES:
            assert rule_id not in owners, f"{rule_id} reported by {owners[rule_id]} and {type(check).__name__}"
            owners[rule_id] = type(check).__module__
    rules = _code_rules()
    assert set(owners) == set(rules)
    for rule_id, raw in rules.items():
        assert raw["module"] == owners[rule_id]


def test_check_docs_have_the_headings_and_explain_prints_them() -> None:
    for check in all_checks():
        doc = check.doc()
        assert all(h in doc for h in DOC_HEADINGS), type(check).__name__
        text = explain(check.RULES[0])
        assert check.RULES[0] in text and "What it does" in text and "sources:" in text


def test_every_technique_has_firing_and_quiet_fixtures() -> None:
    fixtures = all_fixtures()
    techniques = {c.TECHNIQUE for c in all_checks() if c.TECHNIQUE} - {"compressed_code", "helper_code"}
    for tech in sorted(techniques):
        firing = [f for f in fixtures if f.techniques.get(tech, (False, None))[0]]
        quiet = [f for f in fixtures if tech in f.absent or f.techniques.get(tech, (True, None))[0] is False]
        assert firing, f"no fixture where {tech} is active"
        assert quiet, f"no fixture where {tech} must not fire"
