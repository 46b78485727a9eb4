"""The submitted script as code: unwrap self-extracting stubs, find helper files it loads, bound
its compressed size, and compare it with what the logs ran (RULES.md SIZE-002, SIZE-003, LOG-005)."""
from __future__ import annotations

import difflib
import lzma
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import brotli

from auditor.source import InputError, parse_python
from auditor.unwrap import find_payloads
from auditor.verify.context import Context, at, at_line
from auditor.verify.evidence import Evidence, read_text
from reports.model import Evidence as Where
from reports.model import Finding

MAX_WRAPPER_BYTES = 2 * 1024 * 1024
STUB_BYTES = 1024  # a script this small only hands over to another file


@lru_cache(maxsize=32)
def unwrap(source: str) -> str | None:
    """The payload of an `exec(decompress(b85decode("...")))` stub, or None when `source` is not one.

    Decoding is the static auditor's (`auditor.unwrap`): whitelisted pure decoders, bounded output."""
    if len(source) > MAX_WRAPPER_BYTES or "exec" not in source:
        return None
    try:
        tree = parse_python(source, "train_gpt.py")
    except InputError:
        return None
    return next((p.code for p in find_payloads(tree) if p.code is not None), None)


_STATEMENT_STRING = re.compile(r"^[ \t]*[rRbBuU]?(\"\"\"|\'\'\')[\s\S]*?\1[ \t]*$", re.M)
_COMMENT_LINE = re.compile(r"^[ \t]*#.*$", re.M)
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n)+")


def light_minify(source: str) -> str:
    """Drop comment lines, statement-level strings (docstrings) and blank lines: a cheap lower bound
    on what real minifiers keep (they also rename and re-indent, hence the rule's tolerance)."""
    text = _STATEMENT_STRING.sub("", source)
    text = _COMMENT_LINE.sub("", text)
    return _BLANK_RUNS.sub("\n", text)


def floor_if_below(source: str, logged: int, tolerance: float) -> int | None:
    """The smallest compression we reproduce of `source`, returned only when `logged` is more than
    `tolerance` below it. Cheap codecs first: they bound the expensive ones from above."""
    data = light_minify(source).encode("utf-8")
    sizes = [len(brotli.compress(data, quality=10))]
    if logged >= sizes[0] * (1 - tolerance):
        return None
    sizes.append(len(brotli.compress(data, quality=11)))
    sizes.append(len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)))
    floor = min(sizes)
    return floor if logged < floor * (1 - tolerance) else None


@dataclass(frozen=True)
class ScriptCode:
    """The script as it runs: its text, the unwrapped payload, and helper files it loads."""

    path: Path
    text: str
    payload: str | None
    helpers: tuple[Path, ...]

    @property
    def runnable(self) -> str:
        return self.payload if self.payload is not None else self.text

    @property
    def is_stub(self) -> bool:
        return len(self.text.encode("utf-8")) < STUB_BYTES and bool(self.helpers)


def _mentions(source: str, path: Path) -> bool:
    stem, name = re.escape(path.stem), re.escape(path.name)
    if re.search(rf"[\"'/\\]{name}[\"']|[\"']{name}[\"']", source):
        return True
    if path.suffix == ".py" and re.search(rf"(?:^|[;:])\s*(?:import\s+{stem}\b|from\s+{stem}\s+import\b)",
                                          source, re.M):
        return True
    return path.suffix != ".py" and re.search(rf"[\"']{stem}[\"']", source) is not None


def script_code(ev: Evidence, offline: tuple[str, ...]) -> ScriptCode | None:
    """The folder's script, unwrapped when it is a stub, with the code files it loads at run time
    (data-preparation helpers named in `offline` excepted)."""
    layout = ev.layout
    if layout.script is None or ev.script is None:
        return None
    payload = unwrap(ev.script)
    runnable = payload if payload is not None else ev.script
    candidates = [p for p in layout.scripts + layout.native_files
                  if p != layout.script and p.name not in offline]
    helpers: list[Path] = []
    texts = [runnable]
    while texts:  # helpers of helpers too (a .py wrapper that compiles a .cpp kernel)
        text = texts.pop()
        for p in candidates:
            if p not in helpers and _mentions(text, p):
                helpers.append(p)
                if p.suffix == ".py":
                    texts.append(read_text(p) or "")
    return ScriptCode(layout.script, ev.script, payload, tuple(helpers))


def _norm(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.replace("\r\n", "\n").strip().split("\n")]


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def check_compressed_code(ctx: Context, code: ScriptCode | None) -> list[Finding]:
    """SIZE-003: a logged compressed code size below every reproducible compression of the script.

    Source: merged #1394/#1514/#1855 count compressed code; regina-openai on #1835 (the logged
    number is what reviewers check)."""
    if code is None:
        return []
    tol = float(ctx.param("SIZE-003", "tolerance"))
    out = []
    checked: dict[int, int | None] = {}
    for run in ctx.ev.runs:
        log = run.train
        hit = log.code_bytes_compressed
        if hit is None:
            continue
        logged = hit.value
        if logged not in checked:
            checked[logged] = floor_if_below(code.runnable, logged, tol)
        floor = checked[logged]
        if floor is not None:
            out.append(ctx.finding(
                "SIZE-003",
                f"seed {run.seed}: the log counts {logged:,} compressed code bytes, but the smallest "
                f"compression we can reproduce of {code.path.name} is {floor:,} bytes",
                at(log, hit), confidence=0.7))
    return out


def check_logged_source(ctx: Context, code: ScriptCode | None) -> list[Finding]:
    """LOG-005: the seed logs ran the submitted script (embedded source and logged code size agree).

    Source: RULES.md LOG-005; regina-openai on #1835 (the logged run is what is reviewed)."""
    if code is None:
        return []
    texts = {code.path.name: code.text}
    if code.payload is not None:
        texts[f"{code.path.name} (unwrapped)"] = code.payload
    for helper in code.helpers:
        if helper.suffix == ".py":
            texts[helper.name] = read_text(helper) or ""
    normalized = {name: _norm(t) for name, t in texts.items()}
    sizes = {len(t.encode("utf-8")) for t in texts.values()} | {_file_size(code.path)}
    logs = {log.name: log for run in ctx.ev.runs for log in (run.log, run.train)}
    problems: list[str] = []
    evidence: list[Where] = []
    for log in sorted(logs.values(), key=lambda lg: lg.name):
        notes = []
        if log.source is not None:
            embedded = _norm(log.source)
            if embedded not in normalized.values():
                name, best = max(normalized.items(), key=lambda kv: difflib.SequenceMatcher(
                    None, kv[1], embedded, autojunk=False).quick_ratio())
                changed, first = _changed_lines(best, embedded)
                raw_lines = log.source.replace("\r\n", "\n").split("\n")
                lead = next((i for i, ln in enumerate(raw_lines) if ln.strip()), 0)   # _norm strips these
                where = min(lead + first, len(raw_lines) - 1)
                notes.append(f"embedded source differs from {name} in {changed} line(s), first at log line "
                             f"{log.source_line + where}")
                evidence.extend(at_line(log.name, log.source_line + where, raw_lines[where]))
        raw = log.raw_code
        if raw is not None and raw.value not in sizes:
            notes.append(f"ran {raw.value:,} bytes of code")
            evidence.extend(at(log, raw))
        if notes:
            problems.append(f"{log.name} ({'; '.join(notes)})")
    if not problems:
        return []
    return [ctx.finding(
        "LOG-005",
        f"{len(problems)} of {len(logs)} seed log(s) did not run the submitted {code.path.name} "
        f"({_file_size(code.path):,} bytes): " + ", ".join(problems),
        tuple(evidence[:6]))]


def _changed_lines(a: list[str], b: list[str]) -> tuple[int, int]:
    """(lines that differ between a and b, index in b of the first difference)."""
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    return sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in ops), (ops[0][3] if ops else 0)
