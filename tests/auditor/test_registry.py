"""The check registry, the rules data and the fixtures agree: every code rule has one implementing
check, every check documents itself, and every technique has fixtures that fire and that must not."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from auditor.checks import DOC_HEADINGS, all_checks
from auditor.explain import explain
from rules import RULES_DIR, load_rules

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


def _record_and_gate_rules() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in ("checks_record.yaml", "checks_gate.yaml"):
        out.update(yaml.safe_load((RULES_DIR / name).read_text(encoding="utf-8"))["rules"])
    return out


def _section(text: str, heading: str) -> str:
    """The indented lines under a `heading` line of explain's output (empty when absent)."""
    lines = text.split("\n")
    if heading not in lines:
        return ""
    body = []
    for line in lines[lines.index(heading) + 1:]:
        if line and not line.startswith("    "):
            break
        body.append(line)
    return "\n".join(body).strip()


def _docs_naming(module: str, rule_id: str) -> list[str]:
    """Docstrings of the functions and methods in `module` whose first line names `rule_id`."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    named = re.compile(rf"(?<![\w-]){re.escape(rule_id)}(?![\w-])")
    docs = [ast.get_docstring(n) or "" for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return [d.strip() for d in docs if named.search(d.split("\n", 1)[0])]


@pytest.mark.parametrize("rule_id", sorted(load_rules().checks))
def test_explain_prints_source_and_example_for_every_rule(rule_id: str) -> None:
    rule = load_rules().rule(rule_id)
    text = explain(rule_id)
    assert text.startswith(f"{rule_id}  {rule.name}")
    assert rule.sources and "  sources:\n    - " + rule.sources[0] in text
    example = _section(text, "Example")
    assert example, f"{rule_id}: explain prints no example"
    if rule_id in _record_and_gate_rules():
        assert example == "\n".join(f"    {ln}" if ln else "" for ln in rule.example.strip("\n").split("\n")).strip()
        assert _section(text, "Use instead"), f"{rule_id}: explain prints no fix"


@pytest.mark.parametrize("rule_id", sorted(_record_and_gate_rules()))
def test_record_and_gate_rules_print_their_own_check_function(rule_id: str) -> None:
    raw = _record_and_gate_rules()[rule_id]
    assert str(raw.get("example") or "").strip(), f"{rule_id}: rules entry has no example"
    assert str(raw.get("fix") or "").strip(), f"{rule_id}: rules entry has no fix"
    text = explain(rule_id)
    docs = _docs_naming(raw["module"], rule_id)
    assert docs, f"{rule_id}: no function in {raw['module']} has a docstring whose first line names it"
    printed = [d for d in docs if d in text]
    assert len(printed) == 1, f"{rule_id}: explain should print exactly one of {raw['module']}'s docstrings naming it"
    assert rule_id in printed[0].split("\n", 1)[0]
    module_doc = (importlib.import_module(raw["module"]).__doc__ or "").strip()
    assert module_doc not in text, f"{rule_id}: explain printed the module docstring shared with other ids"
    assert f"implemented in: {raw['module']}." in text


def test_explain_lists_a_rules_precedents() -> None:
    from auditor.explain import explain
    from auditor.verify.context import load_extras

    for rule_id, precedents in load_extras().precedents.items():
        text = explain(rule_id)
        assert ("Precedents" in text) == bool(precedents)
        assert all(f"{f'#{p.pr}' if p.pr is not None else 'launch'} {p.folder}: {p.severity}." in text
                   for p in precedents)
