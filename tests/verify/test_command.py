"""`pgolf-audit verify`: argument parsing, JSON output, exit codes, one-line input errors."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from auditor.verify import command
from tests.verify.conftest import CLEAN, RECORD


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pgolf-audit")
    command.add_parser(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["verify", *argv])
    return args.func(args)


def test_clean_folder_json_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(CLEAN), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "pgolf-audit/1" and data["verdict"] == "CLEAN"
    block = data["verify"]
    assert block["track"] == "record" and block["stats"]["n"] == 3 and block["smoke"] is None
    first = block["seeds"][0]
    assert {"seed", "log", "val_loss", "val_bpb", "artifact_bytes", "code_bytes", "train_time_s", "eval_time_s",
            "steps"} <= set(first)
    assert block["env"] == {"NUM_LAYERS": "4", "MODEL_DIM": "64", "MAX_WALLCLOCK_SECONDS": "600.000"}


def test_violation_exit_1_and_review_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(RECORD / "2026-03-22_oversize_two_seeds")]) == 1
    assert "SIZE-001" in capsys.readouterr().out
    units = RECORD / "2026-03-22_gain_in_wrong_units"
    assert _run([str(units)]) == 0
    assert _run([str(units), "--strict"]) == 1


@pytest.mark.parametrize("argv", [["/no/such/folder"], [str(CLEAN), "--baseline", "not-a-row"]])
def test_input_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pgolf-audit verify: error:") and "\n" not in err and "Traceback" not in err


def test_terminal_output_names_seeds_and_findings(capsys: pytest.CaptureFixture[str]) -> None:
    _run([str(RECORD / "2026-03-23_slow_single_seed"), "--baseline", "1.20,1.21,1.19"])
    out = capsys.readouterr().out
    assert "1337" in out and "TIME-001" in out and "STAT-004" in out and "statistics: 1 seed" in out


def test_file_instead_of_folder(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert _run([str(target)]) == 2


def test_audit_markdown_states_a_time_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    from auditor.cli import main

    assert main(["audit", str(CLEAN), "--format", "markdown"]) == 0
    plain = capsys.readouterr().out
    assert main(["audit", str(CLEAN), "--format", "markdown", "--timestamp"]) == 0
    stamped = capsys.readouterr().out
    assert "Generated" not in plain and "Generated " in stamped
    assert stamped.replace(stamped[stamped.index(" Generated"):stamped.index("UTC.") + 4], "") == plain
