"""Where a report says a target lives: the same marker and SARIF locations whichever path it was audited
from, and SARIF URIs that are valid URI references (spaces in merged folder names, absolute paths)."""
from __future__ import annotations

import io

from reports.markdown import render as render_markdown
from reports.model import AuditResult, Evidence, Finding
from reports.render import target_key
from reports.sarif import artifact_location, sarif_log
from tests.reports.conftest import RULES

FOLDER = "records/track_10min_16mb/2026-03-19_int6_STE QAT_ MLP"


def _result(target: str, evidence: tuple[Evidence, ...] = ()) -> AuditResult:
    finding = Finding("SIZE-001", "", "SIZE", "violation", 1.0, "over the cap", evidence)
    return AuditResult(target=target, findings=[finding], files=[], verify=None)


def test_target_key_is_the_same_from_anywhere() -> None:
    for target in (FOLDER, FOLDER + "/", f"/home/me/parameter-golf/{FOLDER}", f"./{FOLDER}"):
        assert target_key(_result(target)) == FOLDER
    assert target_key(_result("/tmp/x/my_script.py")) == "my_script.py"
    assert target_key(_result("scripts/../train_gpt.py")) == "train_gpt.py"


def test_marker_does_not_depend_on_the_checkout_location() -> None:
    def marker(target: str) -> str:
        out = io.StringIO()
        render_markdown(_result(target), out, rules=RULES)
        return out.getvalue().splitlines()[0]
    assert marker(f"/tmp/a/{FOLDER}") == marker(FOLDER) == f"<!-- pgolf-audit:v1 target={FOLDER} -->"


def test_sarif_locations_are_uri_references() -> None:
    assert artifact_location(f"{FOLDER}/train_gpt.py") == {
        "uri": "records/track_10min_16mb/2026-03-19_int6_STE%20QAT_%20MLP/train_gpt.py", "uriBaseId": "%SRCROOT%"}
    assert artifact_location("/tmp/a b/train_gpt.py") == {"uri": "file:///tmp/a%20b/train_gpt.py"}
    log = sarif_log(_result(f"/tmp/checkout/{FOLDER}"), rules=RULES)
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "records/track_10min_16mb/2026-03-19_int6_STE%20QAT_%20MLP"

