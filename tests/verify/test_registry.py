"""Rule ids used by the verifier's code and the entries of rules/checks_record.yaml agree both ways."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from auditor.verify import context
from rules import RULES_DIR, load_rules

VERIFY_DIR = Path(context.__file__).parent
RULE_ID = r"[A-Z]+(?:-[A-Z]+)?-\d{3}"
USES = re.compile(rf"""ctx\.(?:finding|param)\(\s*["']({RULE_ID})["']""")


def _used_in_code() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in sorted(VERIFY_DIR.glob("*.py")):
        for rule_id in USES.findall(path.read_text(encoding="utf-8")):
            used.setdefault(rule_id, set()).add(f"auditor.verify.{path.stem}")
    return used


def _yaml_rules() -> dict[str, dict]:
    return yaml.safe_load((RULES_DIR / "checks_record.yaml").read_text(encoding="utf-8"))["rules"]


def test_code_and_yaml_use_the_same_rule_ids() -> None:
    used, declared = _used_in_code(), _yaml_rules()
    assert set(used) - set(declared) == set(), "used in code, missing from checks_record.yaml"
    assert set(declared) - set(used) == set(), "in checks_record.yaml, never reported by code"


def test_each_rule_names_the_module_that_reports_it() -> None:
    used = _used_in_code()
    for rule_id, raw in _yaml_rules().items():
        assert raw["module"] in used[rule_id], f"{rule_id}: module {raw['module']} does not report it"


def test_entries_load_and_follow_the_format() -> None:
    rules = load_rules()
    for rule_id, raw in _yaml_rules().items():
        rule = rules.rule(rule_id)
        assert re.fullmatch(RULE_ID, rule_id)
        assert raw.get("technique") == "" and rule.sources
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule.name), rule.name
        for p in raw.get("precedents") or ():
            assert p["severity"] in ("review", "info") and p["note"] and p["folder"]


def test_precedents_are_only_softer_than_the_rule() -> None:
    order = {"info": 0, "review": 1, "violation": 2}
    for rule_id, raw in _yaml_rules().items():
        for p in raw.get("precedents") or ():
            assert order[p["severity"]] <= order[raw["severity"]], rule_id
