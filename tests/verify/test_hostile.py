"""Hostile inputs give findings, never a traceback: binary, contradictory, truncated, huge logs and
a broken submission.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.verify import VerifyInputError
from auditor.verify.log_parse import MAX_LOG_BYTES
from tests.verify.conftest import CLEAN, FIXTURES, ids

HOSTILE = FIXTURES / "hostile_logs"


def test_hostile_folder_reports_instead_of_crashing(verify) -> None:  # type: ignore[no-untyped-def]
    outcome = verify(HOSTILE)
    found = ids(outcome)
    assert {"LOG-READ-001", "SUB-005", "SUB-006", "LOG-001", "SIZE-006", "SUB-FOLDER-001"} <= found
    messages = " ".join(f.message for f in outcome.findings)
    assert "binary" in messages and "not valid JSON" in messages and "NaN" in messages
    json.dumps(outcome.block, allow_nan=False)  # NaN scores never leak into the JSON block


def test_unexplained_and_overlong_lines_are_counted(verify) -> None:  # type: ignore[no-untyped-def]
    logs = {entry["file"]: entry for entry in verify(HOSTILE).block["logs"]}
    assert logs["train_seed8.log"]["unexplained_lines"] == 1
    assert logs["train_seed6.log"]["unexplained_lines"] == 1
    assert logs["train_seed5.log"]["unreadable"] == "binary"


def test_oversized_log_is_read_in_part_and_says_so(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    log = folder / "train_seed3.log"
    text = log.read_text()
    head, tail = text.split("peak memory", 1)
    filler = "noise\n" * (MAX_LOG_BYTES // 6 + 50_000)
    log.write_text(head + filler + "peak memory" + tail)  # a little over the read cap
    outcome = verify(folder)
    notes = [f for f in outcome.findings if f.check == "LOG-READ-001"]
    assert notes and "first and last" in notes[0].message
    assert len(outcome.block["seeds"]) == 3


def test_submission_json_of_the_wrong_shape(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    (folder / "submission.json").write_text("[1, 2, 3]")
    outcome = verify(folder)
    assert any(f.check == "SUB-006" and "not an object" in f.message for f in outcome.findings)


def test_missing_folder_is_an_input_error(tmp_path: Path, verify) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VerifyInputError, match="not a directory"):
        verify(tmp_path / "nope")


def test_empty_folder(tmp_path: Path, verify) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "2026-04-01_empty"
    empty.mkdir()
    outcome = verify(empty)
    assert "SUB-002" in ids(outcome, "violation")
    assert outcome.block["seeds"] == [] and outcome.block["stats"]["n"] == 0


def test_log_names_that_are_not_readable_files_are_named(clone, verify) -> None:  # type: ignore[no-untyped-def]
    """A seed log replaced by a link, a FIFO, a directory or an empty file: each is named, none is opened
    (a FIFO would block, /dev/zero never ends)."""
    import os

    folder = clone(CLEAN)
    (folder / "train_seed1.log").unlink()
    (folder / "train_seed1.log").symlink_to("/dev/zero")
    (folder / "train_seed2.log").unlink()
    os.mkfifo(folder / "train_seed2.log")
    (folder / "train_seed3.log").unlink()
    (folder / "train_seed3.log").mkdir()
    (folder / "train_seed4.log").write_text("\n\n")
    outcome = verify(folder)
    messages = sorted(f.message for f in outcome.findings if f.check == "LOG-READ-001")
    assert messages == [
        "train_seed1.log: not read as a train log: it is a symbolic link (never followed)",
        "train_seed2.log: not read as a train log: it is a FIFO, socket or device (never opened)",
        "train_seed3.log: not read as a train log: it is a directory",
        "train_seed4.log: not read as a train log: an empty file",
    ]


def test_nan_in_submission_json_is_a_schema_finding(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    path = folder / "submission.json"
    data = json.loads(path.read_text())
    data["val_bpb"] = float("nan")
    data.setdefault("seed_results", {})["1"] = {"val_bpb": float("inf")}
    path.write_text(json.dumps(data))          # Python writes NaN / Infinity, which no JSON parser must accept
    (finding,) = [f for f in verify(folder).findings if f.check == "SUB-006"]
    assert "val_bpb: nan is not a JSON number" in finding.message
    assert "seed_results/1/val_bpb: inf is not a JSON number" in finding.message
