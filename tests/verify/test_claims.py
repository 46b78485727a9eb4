"""README and submission.json numbers against the logs: each mismatch quotes both values."""
from __future__ import annotations

import json

import pytest

from tests.verify.conftest import CLEAN, PHASED, RECORD, edit, ids


def _claims(outcome):  # type: ignore[no-untyped-def]
    return [f.message for f in outcome.findings if f.check == "SUB-CLAIM-001"]


def test_units_message_gives_both_readings(verify) -> None:  # type: ignore[no-untyped-def]
    outcome = verify(RECORD / "2026-03-22_gain_in_wrong_units")
    msg = next(f.message for f in outcome.findings if f.check == "STAT-UNITS-001")
    assert "0.0126 nats" in msg and "1.1427 - 1.13010" in msg and "per token" in msg and "per byte" in msg
    assert outcome.findings[0].evidence[0].file == "README.md"


def test_true_nats_deltas_are_not_flagged(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    with (folder / "README.md").open("a") as fh:
        fh.write("\n| Mean val_loss (nats) | 1.92000 | 1.90810 | -0.01190 |\n"
                 "Net: -0.0126 BPB / -0.0213 nats vs the previous row (1.1427).\n")
    assert "STAT-UNITS-001" not in {f.check for f in verify(folder).findings}


def test_submission_numbers_against_logs(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    data = json.loads((folder / "submission.json").read_text())
    data.update({"bytes_total": 15000000, "bytes_code": 2487, "seeds": [1, 2, 3, 4]})
    data["seed_results"]["2"]["artifact_bytes"] = 15000000
    data["compliance"] = {"train_under_600s": True, "three_seeds": True}
    (folder / "submission.json").write_text(json.dumps(data))
    claims = _claims(verify(folder))
    assert any("bytes_total says 15,000,000" in c and "seed 1: 15,714,832" in c for c in claims)
    assert any("seeds says [1, 2, 3, 4]" in c and "[1, 2, 3]" in c for c in claims)
    assert any("seed 2 artifact_bytes" in c and "15,701,252" in c for c in claims)
    assert not any("bytes_code" in c or "compliance" in c for c in claims)


def test_compliance_booleans_are_checked(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(PHASED)
    edit(folder / "train_seed12.log", "total_eval_time:510.1s", "total_eval_time:640.2s")
    claims = _claims(verify(folder))
    assert any("compliance eval_under_600s" in c and "max eval 640.2 s" in c for c in claims)


def test_readme_seed_count_and_table_rows(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    edit(folder / "README.md", "Three seeds, all inside the limits.", "All runs inside the limits.")
    with (folder / "README.md").open("a") as fh:
        fh.write("\nResults over 5 seeds.\n\n| Seed | BPB | Size |\n|---|---|---|\n"
                 "| 1 | 1.1299 | 15.71 MB |\n| 2 | 1.1350 | 15.70 MB |\n| 3 | 1.1303 | 17.20 MB |\n")
    claims = _claims(verify(folder))
    assert any("number of seeds" in c and "5 seeds" in c for c in claims)
    assert any("seed 2 val_bpb" in c and "1.1350" in c and "1.13010000" in c for c in claims)
    assert any("seed 3 size" in c and "17.20 MB" in c for c in claims)
    assert not any("seed 1 " in c for c in claims)


def test_claims_are_listed_in_the_block(verify) -> None:  # type: ignore[no-untyped-def]
    block = verify(PHASED).block
    assert block["claims"] and all(c["holds"] for c in block["claims"])
    assert {c["what"] for c in block["claims"]} >= {"headline val_bpb", "seeds", "compliance three_seeds"}


@pytest.mark.parametrize(("sentence", "what", "holds"), [
    ("Std: 0.0030 across seeds.", "std of val_bpb", False),
    ("Std: 0.00015 across seeds.", "std of val_bpb", True),
    ("Seeds vary by ± 0.0002.", "std of val_bpb", True),        # within a tenth, as authors round
    ("Trained in 540 seconds on 8xH100.", "training time", False),
    ("Trained in 600 seconds on 8xH100.", "training time", None),   # the budget itself is not a measurement
    ("560 s of training, then GPTQ.", "training time", False),
    ("598 s of training, then GPTQ.", "training time", True),
    ("Evaluation took 45 s.", "evaluation time", False),
    ("Evaluation took 79 s (sliding window 73 s).", "evaluation time", True),
    ("eval time: 74s", "evaluation time", True),                   # a phase of the evaluation
])
def test_times_and_spread_stated_in_the_readme(sentence: str, what: str, holds: bool | None, clone,  # type: ignore[no-untyped-def]
                                               verify) -> None:
    folder = clone(CLEAN)
    readme = folder / "README.md"
    readme.write_text(readme.read_text() + f"\n{sentence}\n")
    outcome = verify(folder)
    stated = [c for c in outcome.block["claims"] if c["what"] == what]
    assert [c["holds"] for c in stated] == ([] if holds is None else [holds]), stated
    assert ("SUB-CLAIM-001" in ids(outcome)) == (holds is False)
