"""Machine-readable outputs against their schemas: ours (reports/result.schema.json) and SARIF 2.1.0.

The SARIF schema is the OASIS standard's, vendored here (tests/reports/sarif-schema-2.1.0.json) so the
tests run from any clone; when ../shared/schemas holds a copy, it must be the same file.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports import annotations, json_report, markdown, sarif, terminal
from reports.model import AuditResult, Evidence, Finding, Technique
from tests.reports.conftest import OPTIONS, RULES, clean_file_result, shared_result

HERE = Path(__file__).parent
RESULT_SCHEMA = json.loads((HERE.parents[1] / "reports" / "result.schema.json").read_text(encoding="utf-8"))
SARIF_SCHEMA = json.loads((HERE / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
SHARED_SARIF = HERE.parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"

result_validator = jsonschema.Draft202012Validator(RESULT_SCHEMA, format_checker=jsonschema.FormatChecker())
sarif_validator = jsonschema.Draft7Validator(SARIF_SCHEMA)


def as_json(render, result: AuditResult) -> dict:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    render(result, out, rules=RULES, **OPTIONS)
    return json.loads(out.getvalue())


def test_schemas_are_valid_schemas():
    jsonschema.Draft202012Validator.check_schema(RESULT_SCHEMA)
    jsonschema.Draft7Validator.check_schema(SARIF_SCHEMA)


@pytest.mark.skipif(not SHARED_SARIF.exists(), reason="no ../shared checkout")
def test_vendored_sarif_schema_is_the_shared_one():
    assert (HERE / "sarif-schema-2.1.0.json").read_bytes() == SHARED_SARIF.read_bytes()


@pytest.mark.parametrize("make", [shared_result, clean_file_result])
def test_outputs_validate(make):  # type: ignore[no-untyped-def]
    result_validator.validate(as_json(json_report.render, make()))
    sarif_validator.validate(as_json(sarif.render, make()))


def test_result_schema_rejects_what_it_should():
    doc = shared_result().to_json()
    assert result_validator.is_valid({**doc, "added_later": 1})  # v1 only grows: consumers accept new keys
    for broken in ({**doc, "verdict": "PASS"}, {**doc, "schema": "pgolf-audit/2"}, {k: v for k, v in doc.items() if k != "findings"},
                   {**doc, "findings": [{**doc["findings"][0], "severity": "error"}]},
                   {**doc, "verify": {**doc["verify"], "seeds": [{"seed": 1}]}}):
        assert not result_validator.is_valid(broken)


# --- any result the model can hold renders, and validates -------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
check_ids = st.sampled_from(["EVAL-TTT-002", "SIZE-001", "SUB-001", "STAT-004", "LOG-005", "NEW-CHECK-001"])
techniques = st.sampled_from(["prequant_ttt", "ngram_cache", "score_first_ttt", "slot", "two_pass"])
evidence = st.builds(Evidence, file=st.sampled_from(["train_gpt.py", "logs/seed 1.txt", "../../../README.md", "a,b:c.py"]),
                     line=st.integers(0, 10_000), snippet=text)
findings = st.builds(Finding, check=check_ids, technique=st.one_of(st.just(""), techniques),
                     condition=st.sampled_from(["C1", "C2", "C3", "C4", "SIZE", "TIME", "STATS", "DATA", "BPB",
                                                "FILES", "LOG", "INPUT"]),
                     severity=st.sampled_from(["violation", "review", "info"]),
                     confidence=st.floats(0, 1), message=text, evidence=st.lists(evidence, max_size=3).map(tuple))
numbers = st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False))
seeds = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31), "log": text, "val_loss": st.floats(0, 10), "val_bpb": st.floats(0, 10),
    "artifact_bytes": st.one_of(st.none(), st.integers(0, 10**9)), "code_bytes": st.one_of(st.none(), st.integers(0, 10**7)),
    "train_time_s": numbers, "eval_time_s": numbers, "steps": st.one_of(st.none(), st.integers(0, 10**6))})
verify = st.one_of(st.none(), st.fixed_dictionaries({
    "track": text, "seeds": st.lists(seeds, max_size=4),
    "stats": st.fixed_dictionaries({"n": st.integers(0, 5), "mean_bpb": st.floats(0, 10), "std_bpb": st.floats(0, 1),
                                    "baseline": st.one_of(st.none(), text), "p_one_sided": st.one_of(st.none(), st.floats(0, 1)),
                                    "delta_bpb": numbers, "delta_nats": numbers}),
    "smoke": st.one_of(st.none(), st.fixed_dictionaries({
        "status": st.sampled_from(["ok", "author_error", "harness_error", "timeout", "skipped"]), "summary": text}))}))
results = st.builds(AuditResult, target=st.sampled_from(["records/track_10min_16mb/2026-01-01_x", "a/train_gpt.py", "."]),
                    findings=st.lists(findings, max_size=5),
                    techniques=st.lists(st.builds(Technique, id=techniques, active=st.booleans(),
                                                  legal=st.one_of(st.none(), st.booleans())), max_size=3),
                    files=st.lists(st.sampled_from(["train_gpt.py", "helper.py"]), max_size=2), verify=verify,
                    notes=st.lists(text, max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results)
def test_any_result_renders_and_validates(result: AuditResult):
    result_validator.validate(as_json(json_report.render, result))
    sarif_validator.validate(as_json(sarif.render, result))
    for render in (markdown.render, annotations.render, terminal.render):
        render(result, io.StringIO(), rules=RULES, **OPTIONS)
    out = io.StringIO()
    annotations.render(result, out, rules=RULES)
    lines = out.getvalue().split("\n")  # the runner splits on LF and CR only
    assert lines.pop() == "" and not any("\r" in line for line in lines)
    for line in lines:  # one command per line, whatever the messages hold
        assert line.startswith(("::error ", "::warning ", "::notice ", "::error::", "::warning::", "::notice::"))


@pytest.mark.parametrize("prequant_ttt", [False, True])
def test_real_audit_output_validates(tmp_path: Path, prequant_ttt: bool):
    """What the real auditor and verifier produce for a records folder fits the published schema."""
    from auditor.api import audit_path
    from tests.reports.gitrepo import add_realistic_submission

    folder = "records/track_10min_16mb/2026-04-01_Run"
    add_realistic_submission(tmp_path, folder, prequant_ttt=prequant_ttt)
    result = audit_path(tmp_path / folder)
    assert result.verify is not None and result.verdict == ("VIOLATION" if prequant_ttt else "CLEAN")
    for render, validator in ((json_report.render, result_validator), (sarif.render, sarif_validator)):
        out = io.StringIO()
        render(result, out)  # the installed rules registry, not the pinned one
        validator.validate(json.loads(out.getvalue()))
