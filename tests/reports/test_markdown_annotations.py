"""What the review comment and the annotations promise, beyond their snapshots."""
from __future__ import annotations

import io
import re

from reports import annotations, markdown
from reports.model import AuditResult, Evidence, Finding
from tests.reports.conftest import OPTIONS, REPO_URL, RULES, SHA, TARGET, clean_file_result, shared_result


def md(result: AuditResult, **options: object) -> str:
    out = io.StringIO()
    markdown.render(result, out, rules=RULES, **OPTIONS, **options)
    return out.getvalue()


def rows(text: str) -> dict[str, list[str]]:
    table = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in table]
    return {c[0].strip(): [x.strip() for x in c[1:]] for c in cells}


def test_marker_title_and_provenance():
    text = md(shared_result(), repo_url=REPO_URL, sha=SHA)
    first, title = text.splitlines()[:2]
    assert first == f"<!-- pgolf-audit:v1 target={TARGET} -->"
    assert title == "## pgolf-audit: 2026-03-22_XSA4_EMA_GPQ — 1.13243 BPB (2-seed mean)"
    assert f"Commit [`{SHA[:12]}`]({REPO_URL}/commit/{SHA})" in text
    assert f"[train_gpt.py:812]({REPO_URL}/blob/{SHA}/{TARGET}/train_gpt.py#L812)" in text


def test_file_line_without_a_repository():
    text = md(shared_result())
    assert "`train_gpt.py:812`" in text and "https://" not in text


def test_submission_name_from_the_verifier_wins():
    result = shared_result()
    assert result.verify is not None
    result.verify["name"] = "11L XSA4 + EMA"
    assert md(result).splitlines()[1].startswith("## pgolf-audit: 11L XSA4 + EMA — ")


def test_one_row_per_condition_with_honest_statuses():
    table = rows(md(clean_file_result()))
    assert list(table)[:4] == ["C1 causal: a prediction uses only the artifact and earlier tokens",
                               "C2 normalized: a full distribution over the vocabulary", "C3 score before update",
                               "C4 single left-to-right pass"]
    assert table["Artifact size"][:3] == ["✅ no finding", "code checks only; no logs were verified",
                                          "SIZE-CODE-002"]  # a single script: no logs were read
    assert table["Seeds and statistics"][0] == "➖ not checked"
    assert table["C3 score before update"][:2] == ["✅ no finding", "`score_first_ttt` active (legal)"]

    shared = rows(md(shared_result()))
    assert shared["C3 score before update"][0] == "❌ violation"
    assert shared["Artifact size"][1].startswith("max 17,412,345 B over 2 seeds (limit 16,000,000 B)")
    assert shared["Evaluation time"][1] == "max 188.2 s over 1 of 2 seeds (limit 600 s)"
    assert shared["Training time and hardware"][2] == "TIME-001" and shared["Evaluation time"][2] == "TIME-006"
    assert "valerio-oai on #462" in shared["C3 score before update"][2]  # the ruling it rests on


def test_nothing_measured_is_no_data_not_a_pass():
    result = shared_result()
    assert result.verify is not None
    for seed in result.verify["seeds"]:
        seed["eval_time_s"] = None
    table = rows(md(result))
    assert table["Evaluation time"][:2] == ["❔ no data", "nothing measured in the logs"]
    assert "Evaluation time: the verifier found nothing to measure in the logs." in md(result)


def test_states_findings_and_never_recommends():
    for result in (shared_result(), clean_file_result()):
        text = md(result).lower()
        assert "recommend" not in text and "merge pending" not in text and "looks clean" not in text
        assert "sliding" not in text  # nothing the result does not say
    assert "merging is the maintainers' decision" in md(shared_result())


def test_human_checks_caveats_and_timestamp():
    text = md(shared_result())
    section = text.split("### What a human must still check")[1].split("###")[0]
    assert "EVAL-NGRAM-004" in section and "STAT-004" in section and "EVAL-TTT-002" not in section
    assert "EVAL-NGRAM-004 was matched with confidence 0.60" in text
    assert "`score_first_ttt` is in the code but off" in text
    assert "Generated" not in text
    assert md(shared_result(), timestamp="2026-05-02T10:00Z").rstrip().endswith("Generated 2026-05-02T10:00Z.</sub>")


def test_hostile_text_stays_inert():
    result = AuditResult(target="a--> <b>/train_gpt.py", findings=[Finding(
        "EVAL-TTT-002", "", "C3", "violation", 1.0, "x | y <script>\nsecond line",
        (Evidence("train_gpt.py", 1, "s = '```'"),))], files=["train_gpt.py"])
    text = md(result)
    assert text.splitlines()[0] == "<!-- pgolf-audit:v1 target=a- -> <b>/train_gpt.py -->"
    assert "<script>" not in text and "x \\| y &lt;script&gt; second line" in text
    assert "     ````python\n     s = '```'\n     ````" in text


def test_annotation_escaping():
    assert annotations.escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert annotations.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    line = annotations.command("warning", "m: 1, 2", file="x,y:z.py", line=3, title="T: a, b")
    assert line == "::warning file=x%2Cy%3Az.py,line=3,title=T%3A a%2C b::m: 1, 2"
    assert annotations.command("notice", "hi") == "::notice::hi"


def test_annotations_one_per_finding_with_severity_commands():
    out = io.StringIO()
    annotations.render(shared_result(), out, rules=RULES)
    commands = [line.split(" ", 1)[0].split("::")[1] for line in out.getvalue().splitlines()]
    assert commands == ["error", "error", "warning", "warning", "notice", "notice"]
