"""Find the parts of a records folder: track and date from the path, README, submission.json,
the training script, logs, requirements, helper code and tokenizer files (RULES.md SUB-FOLDER-001..005)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from rules import Rules

_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})_")
_LOG_SUFFIXES = (".log", ".txt")
_NOT_LOGS = re.compile(r"^(?:requirements.*|readme.*|license.*|notes?|todo)\.txt$", re.I)
_NATIVE_SUFFIXES = (".cpp", ".cc", ".c", ".cu", ".h", ".so")
_TOKENIZER_SUFFIXES = (".model", ".vocab")
MAX_DEPTH = 3
MAX_FILES = 2000


@dataclass(frozen=True)
class FolderLayout:
    """Where everything is. Paths are absolute; `rel()` gives the folder-relative name for evidence."""

    root: Path
    name: str
    track: str | None  # "record" | "non_record" | None when the path shows no track directory
    date: dt.date | None
    readme: Path | None
    submission: Path | None
    script: Path | None
    scripts: tuple[Path, ...]
    logs: tuple[Path, ...]
    requirements: Path | None
    native_files: tuple[Path, ...]
    tokenizer_files: tuple[Path, ...]
    too_many_files: bool
    logs_not_read: tuple[tuple[Path, str], ...] = ()  # log-named entries that are not regular files

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name


def _walk(root: Path) -> tuple[list[Path], list[tuple[Path, str]], bool]:
    """(regular files, (entry, what it is) for entries never read: links, FIFOs, devices, sockets;
    whether the listing stopped at MAX_FILES)."""
    found: list[Path] = []
    special: list[tuple[Path, str]] = []
    stack = [(root, 0)]
    while stack:
        here, depth = stack.pop()
        try:
            entries = sorted(here.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            if entry.is_symlink():
                special.append((entry, "a symbolic link (never followed)"))
            elif entry.is_dir():
                if entry.suffix in _LOG_SUFFIXES:
                    special.append((entry, "a directory"))
                elif depth + 1 < MAX_DEPTH:
                    stack.append((entry, depth + 1))
            elif entry.is_file():
                found.append(entry)
                if len(found) >= MAX_FILES:
                    return sorted(found), special, True
            else:
                special.append((entry, "a FIFO, socket or device (never opened)"))
    return sorted(found), special, False


def _track(root: Path, rules: Rules) -> str | None:
    names = {v: k for k, v in rules.tracks.items()}
    for part in reversed(root.parts[:-1]):
        if part in names:
            return names[part]
    return None


def _pick_script(scripts: list[Path], root: Path) -> Path | None:
    top = [p for p in scripts if p.parent == root]
    exact = [p for p in top if p.name == "train_gpt.py"]
    if exact:
        return exact[0]
    trainers = [p for p in top if p.name.startswith("train")]
    return max(trainers, key=lambda p: p.stat().st_size) if trainers else None


def discover(root: Path, rules: Rules) -> FolderLayout:
    """Describe the folder at `root` (which must be a directory)."""
    root = root.resolve()
    files, special, too_many = _walk(root)
    top = [p for p in files if p.parent == root]
    scripts = [p for p in files if p.suffix == ".py"]
    readme = next((p for p in top if p.name.lower() == "readme.md"), None)
    subs = [p for p in top if p.name.startswith("submission") and p.suffix == ".json"]
    submission = next((p for p in subs if p.name == "submission.json"), subs[0] if subs else None)
    reqs = next((p for p in top if p.name == "requirements.txt"), None)
    logs = tuple(p for p in files if p.suffix in _LOG_SUFFIXES and not _NOT_LOGS.match(p.name))
    logs_not_read = tuple((p, what) for p, what in special
                          if p.suffix in _LOG_SUFFIXES and not _NOT_LOGS.match(p.name))
    m = _DATE_PREFIX.match(root.name)
    try:
        date = dt.date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        date = None
    return FolderLayout(
        root=root, name=root.name, track=_track(root, rules), date=date, readme=readme,
        submission=submission, script=_pick_script(scripts, root), scripts=tuple(scripts), logs=logs,
        requirements=reqs, native_files=tuple(p for p in files if p.suffix in _NATIVE_SUFFIXES),
        tokenizer_files=tuple(p for p in files if p.suffix in _TOKENIZER_SUFFIXES), too_many_files=too_many,
        logs_not_read=logs_not_read,
    )
