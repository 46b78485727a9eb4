"""Reading the code fixtures' machine-readable headers (see tests/fixtures/code/*/README.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code"
_TECH = re.compile(r"^#\s*expect-technique:\s*(\w+)\s+active=(true|false)\s+legal=(true|false|null)", re.M)
_ABSENT = re.compile(r"^#\s*expect-absent:\s*(.+)$", re.M)
_VERDICT = re.compile(r"^#\s*expect-verdict:\s*(CLEAN|REVIEW|VIOLATION)", re.M)
_ENV = re.compile(r"^#\s*env:\s*(.+)$", re.M)
_MARK = re.compile(r"^\s*#\s*expect:\s*(\w+)\s*$")
_BOOL = {"true": True, "false": False, "null": None}


@dataclass
class Fixture:
    path: Path  # the file or folder to audit
    header_file: Path
    techniques: dict[str, tuple[bool, bool | None]] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)
    verdict: str = ""
    env: dict[str, str] = field(default_factory=dict)
    marks: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # technique -> {(file, line)}

    @property
    def id(self) -> str:
        return str(self.path.relative_to(FIXTURES))


def load_fixture(path: Path) -> Fixture:
    header = path / "train_gpt.py" if path.is_dir() else path
    text = header.read_text(encoding="utf-8")
    fx = Fixture(path, header)
    for tech, active, legal in _TECH.findall(text):
        fx.techniques[tech] = (_BOOL[active], _BOOL[legal])
    for line in _ABSENT.findall(text):
        fx.absent |= set(line.replace(",", " ").split())
    m = _VERDICT.search(text)
    fx.verdict = m.group(1) if m else ""
    for line in _ENV.findall(text):
        for pair in line.split():
            k, _, v = pair.partition("=")
            fx.env[k] = v
    files = sorted(path.glob("*.py")) if path.is_dir() else [path]
    for f in files:
        lines = f.read_text(encoding="utf-8").splitlines()
        rel = f.name
        for i, line in enumerate(lines):
            m = _MARK.match(line)
            if m:
                nxt = i + 1
                while nxt < len(lines) and _MARK.match(lines[nxt]):
                    nxt += 1
                fx.marks.setdefault(m.group(1), set()).add((rel, nxt + 1))
    return fx


def all_fixtures() -> list[Fixture]:
    out = []
    for tech_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for entry in sorted(tech_dir.iterdir()):
            if entry.suffix == ".py" or (entry.is_dir() and (entry / "train_gpt.py").exists()):
                out.append(load_fixture(entry))
    return out
