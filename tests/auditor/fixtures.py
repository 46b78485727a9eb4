"""Reading the code fixtures' machine-readable headers (tests/fixtures/code/README.md has the format with examples).

A fixture is a file `tests/fixtures/code/<technique>/<name>.py`, or a folder holding `train_gpt.py`. Its header
is the block of `#` lines at the top of that file (of `train_gpt.py` for a folder)::

    # fixture: <what the program is>                                  free text, not read
    # expect-technique: <technique> active=true|false legal=true|false|null     one line per technique
    # expect-absent: <technique> <technique> ...                      must not be active (spaces or commas)
    # expect-verdict: CLEAN|REVIEW|VIOLATION
    # env: NAME=value NAME=value                                      the environment of the audit
    # variant: <name> — <what this environment turns on or off>       starts a variant

Without `# variant:` lines the header describes one audit. With them, the lines before the first
`# variant:` are shared and each variant is one audit of the same code: its own lines add to the shared ones
and override them (its verdict and env values replace the shared ones; its `expect-technique` line for a
technique replaces the shared line or the technique's place in the shared absent list, and its
`expect-absent` drops a shared `expect-technique` line for that technique). Variant names are word
characters and hyphens; what follows the name (`— <description>`) is free text.

In the code (any `.py` file of a folder fixture), `# expect: <technique>` marks the next line that is not a
mark as an evidence line the technique's findings must point at. It applies to every variant whose header has
an `expect-technique` line for that technique (active or not); `# expect: <technique> [name, name]` applies
to the named variants only. A mark that applies to no variant, or names an unknown variant, is an error.

Each (fixture, variant) pair is one `Fixture`; its id is the path under tests/fixtures/code/, followed by
`[<variant>]` when the file has variants (`ngram_cache/env_flag_order.py[on]`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code"
_TECH = re.compile(r"#\s*expect-technique:\s*(\w+)\s+active=(true|false)\s+legal=(true|false|null)")
_ABSENT = re.compile(r"#\s*expect-absent:\s*(.+)$")
_VERDICT = re.compile(r"#\s*expect-verdict:\s*(CLEAN|REVIEW|VIOLATION)")
_ENV = re.compile(r"#\s*env:\s*(.+)$")
_VARIANT = re.compile(r"#\s*variant:\s*([\w-]+)")
_MARK = re.compile(r"^\s*#\s*expect:\s*(\w+)\s*(?:\[([\w\s,-]*)\])?\s*$")
_BOOL = {"true": True, "false": False, "null": None}


@dataclass
class Fixture:
    """One audit of a fixture: the path to audit, the environment, and what the audit must report."""

    path: Path  # the file or folder to audit
    header_file: Path
    techniques: dict[str, tuple[bool, bool | None]] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)
    verdict: str = ""
    env: dict[str, str] = field(default_factory=dict)
    marks: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # technique -> {(file, line)}
    variant: str = ""  # the `# variant:` name; "" for a file without variants

    @property
    def id(self) -> str:
        """`<technique>/<name>` under tests/fixtures/code/, with `[<variant>]` appended for a variant."""
        base = str(self.path.relative_to(FIXTURES))
        return f"{base}[{self.variant}]" if self.variant else base


@dataclass
class _Expectations:
    """The expectation lines of one header section (the shared lines or one variant's)."""

    techniques: dict[str, tuple[bool, bool | None]] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)
    verdict: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def read(self, line: str) -> None:
        """Take in one header line; lines that are not expectations (`# fixture:`, prose) are ignored."""
        if m := _TECH.match(line):
            self.techniques[m.group(1)] = (_BOOL[m.group(2)], _BOOL[m.group(3)])
        elif m := _ABSENT.match(line):
            self.absent |= set(m.group(1).replace(",", " ").split())
        elif m := _VERDICT.match(line):
            self.verdict = self.verdict or m.group(1)
        elif m := _ENV.match(line):
            for pair in m.group(1).split():
                key, _, value = pair.partition("=")
                self.env[key] = value

    def over(self, shared: _Expectations) -> _Expectations:
        """This variant's lines added to the shared ones, overriding them where both speak of the same thing."""
        techniques = {t: s for t, s in shared.techniques.items() if t not in self.absent} | self.techniques
        absent = (shared.absent - self.techniques.keys()) | self.absent
        return _Expectations(techniques, absent, self.verdict or shared.verdict, shared.env | self.env)


def _header(header: Path) -> dict[str, _Expectations]:
    """Variant name -> its merged expectations; a file without variants gives {"": expectations}."""
    shared = _Expectations()
    variants: dict[str, _Expectations] = {}
    section = shared
    for line in header.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if m := _VARIANT.match(line):
            if m.group(1) in variants:
                raise ValueError(f"{header}: variant {m.group(1)!r} declared twice")
            section = variants[m.group(1)] = _Expectations()
        else:
            section.read(line)
    if not variants:
        return {"": shared}
    return {name: own.over(shared) for name, own in variants.items()}


def _marks(path: Path, variants: dict[str, _Expectations]) -> dict[str, dict[str, set[tuple[str, int]]]]:
    """Variant name -> technique -> {(file name, line)} from the `# expect:` marks in the fixture's code."""
    out: dict[str, dict[str, set[tuple[str, int]]]] = {name: {} for name in variants}
    for f in sorted(path.glob("*.py")) if path.is_dir() else [path]:
        lines = f.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = _MARK.match(line)
            if not m:
                continue
            tech = m.group(1)
            nxt = i + 1
            while nxt < len(lines) and _MARK.match(lines[nxt]):
                nxt += 1
            if m.group(2) is None:
                names = [name for name, exp in variants.items() if tech in exp.techniques]
            else:
                names = m.group(2).replace(",", " ").split()
                unknown = [name for name in names if name not in variants]
                if unknown:
                    raise ValueError(f"{f}:{i + 1}: mark names unknown variant(s) {unknown}")
            if not names:
                raise ValueError(f"{f}:{i + 1}: mark for {tech} applies to no variant (no expect-technique line)")
            for name in names:
                out[name].setdefault(tech, set()).add((f.name, nxt + 1))
    return out


def load_fixtures(path: Path) -> list[Fixture]:
    """The audits one fixture file or folder describes: one Fixture per variant, or one for a file without."""
    header = path / "train_gpt.py" if path.is_dir() else path
    variants = _header(header)
    marks = _marks(path, variants)
    return [Fixture(path, header, exp.techniques, exp.absent, exp.verdict, exp.env, marks[name], name)
            for name, exp in variants.items()]


def all_fixtures() -> list[Fixture]:
    """Every audit described under tests/fixtures/code/: by technique folder, fixture name, then variant order."""
    out: list[Fixture] = []
    for tech_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for entry in sorted(tech_dir.iterdir()):
            if entry.suffix == ".py" or (entry.is_dir() and (entry / "train_gpt.py").exists()):
                out.extend(load_fixtures(entry))
    return out
