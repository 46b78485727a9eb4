"""Shared helpers for the verifier tests: fixture folders, copies to edit, rule ids of an outcome."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.verify import VerifyOutcome, verify_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "records"
RECORD = FIXTURES / "track_10min_16mb"
NON_RECORD = FIXTURES / "track_non_record_16mb"
CLEAN = RECORD / "2026-04-01_three_seeds_clean"
PHASED = RECORD / "2026-04-20_phased_clean"
MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")


def ids(outcome: VerifyOutcome, severity: str | None = None) -> set[str]:
    """Rule ids of an outcome's findings (optionally of one severity)."""
    return {f.check for f in outcome.findings if severity is None or f.severity == severity}


def edit(path: Path, old: str, new: str, count: int = -1) -> None:
    """Replace text in a fixture copy; fails loudly when the text is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def edit_logs(folder: Path, old: str, new: str) -> None:
    for log in sorted(folder.glob("*.log")):
        edit(log, old, new)


@pytest.fixture
def clone(tmp_path: Path) -> Callable[[Path], Path]:
    """Copy a fixture folder into tmp_path/records/<track>/<name> (keeping its track) and return it."""
    def make(src: Path) -> Path:
        dst = tmp_path / "records" / src.parent.name / src.name
        shutil.copytree(src, dst)
        return dst
    return make


@pytest.fixture
def verify() -> Callable[..., VerifyOutcome]:
    return verify_folder
