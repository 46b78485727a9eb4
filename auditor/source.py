"""Load a submission — one `.py` file or a records folder — into parsed source units.

The headline script is found first (README run command, logs, then `train_gpt.py`); the loader then
follows what that script really runs: payloads decoded from `exec(decompress(...))` wrappers (see
`unwrap.py`), `exec(open("helper.py").read())`, `runpy.run_path`, and imports of modules that live in
the folder. Every unit remembers where its lines came from, so evidence points at real file lines.
Nothing here executes submission code.
"""
from __future__ import annotations

import ast
import bisect
import codecs
import contextlib
import os
import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from reports.model import Evidence

from .newsyntax import downgrade
from .syntax import shape, walk
from .unwrap import (
    DecodeBudget,
    Namespace,
    Payload,
    file_read_path,
    find_payloads,
    import_aliases,
    runs_code,
)

MAX_SOURCE_BYTES = 4 * 1024 * 1024  # real record scripts are under 200 KB; beyond this the analysis is not worth waiting for
MAX_UNITS = 64
# Parsing costs memory and time per syntax node, not per byte: a 4 MiB file of `x=1` lines is 4M nodes
# (about 2.5 GB and a minute of analysis), while a 4 MiB string literal is one. So the code outside
# string literals and comments is bounded before parsing, and the parsed nodes of a whole submission
# after. Record scripts are under 200 KB of code (about 60,000 nodes).
MAX_CODE_BYTES = 1024 * 1024
MAX_NODES = 400_000
# The analysis walks nested statements and expressions recursively; Python itself rejects more than
# 200 nested brackets and 100 indentation levels, but `elif` chains and operator chains nest without
# either. Deeper trees are refused (a one-line error, or AUDIT-001 for a helper or payload).
MAX_AST_DEPTH = 200
_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class InputError(Exception):
    """Input we cannot audit at all; the message is one line that names the file and the problem."""


DECODED_SUFFIX = " (decoded at line {line})"  # a decoded unit's label: the file it was decoded from, and where
_DECODED_LABEL = re.compile(r"^(?P<file>.*) \(decoded at line \d+\)$")


def label_file(label: str) -> str:
    """The file a unit's label names: `train_gpt.py (decoded at line 3)` -> `train_gpt.py`."""
    m = _DECODED_LABEL.match(label)
    return m.group("file") if m else label


@dataclass
class Unit:
    """One parsed piece of source: a file, or code decoded from a payload inside a file."""

    file: str  # path relative to the submission root: what evidence points at
    text: str
    tree: ast.Module
    role: str  # main | helper | decoded
    module: str | None = None  # import name, for helper modules
    decoded_at: int | None = None  # for decoded code: the line of the exec() in `file`
    chain: tuple[str, ...] = ()  # decoders applied to produce this unit
    lines: list[str] = field(default_factory=list)
    run_at: tuple[int, int] | None = None  # (index of the unit that execs it, line there), for exec'd code
    # For code exec'd in dict displays (`exec(src, {"model": model})`): the only names it finds bound, each with the
    # expression at the exec call in the unit `run_at` names that gives the value. None: the caller's names.
    namespace: Namespace | None = None

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()

    @property
    def label(self) -> str:
        return f"{self.file}{DECODED_SUFFIX.format(line=self.decoded_at)}" if self.decoded_at else self.file

    def evidence(self, line: int) -> Evidence:
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        if self.decoded_at is not None:
            return Evidence(self.file, self.decoded_at, f"[decoded line {line}] {text}"[:240])
        return Evidence(self.file, line, text[:240])


@dataclass(frozen=True)
class Problem:
    """Something in the submission that could not be analyzed; becomes a REVIEW finding."""

    file: str
    line: int
    message: str


@dataclass
class Submission:
    root: Path  # folder that relative paths are relative to
    target: str  # what the user named
    units: list[Unit]
    problems: list[Problem]
    headline: str  # the audited script, relative to root
    is_folder: bool

    @property
    def in_run_context(self) -> bool:
        """Whether the folder's README/logs describe how this script was run: always for a records folder,
        for a single file only when it sits in one (beside submission.json or train logs)."""
        return self.is_folder or (self.root / "submission.json").exists() or any(self.root.glob("*.log"))

    @property
    def main(self) -> Unit:
        return self.units[0]


def read_python(path: Path, display: str) -> str:
    """Read a source file the way Python would (PEP 263 coding cookie, UTF-8 default), or raise InputError.

    Only regular files are read, and never more than the size limit: a FIFO would block forever and a
    link to a device (`/dev/zero`) never ends."""
    try:
        with _open_regular(path) as fh:
            if fh is None:
                raise InputError(f"{display}: not a regular file")
            raw = fh.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise InputError(f"{display}: {len(raw):,} bytes is larger than the {MAX_SOURCE_BYTES:,}-byte limit for source files")
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{display}: UTF-16/UTF-32 text; Python source must be in an ASCII-compatible encoding")
    if b"\x00" in raw:
        raise InputError(f"{display}: contains NUL bytes; not Python source")
    encoding = "utf-8"
    for first in raw.splitlines()[:2]:
        m = _CODING_RE.match(first)
        if m:
            encoding = m.group(1).decode("ascii", "replace")
            break
    if not _source_encoding(encoding):
        raise InputError(f"{display}: encoding problem: {encoding} (Python refuses it as a source encoding too)")
    try:
        text = raw.decode(encoding)
    except (UnicodeError, LookupError, ValueError) as exc:
        raise InputError(f"{display}: not valid {encoding} text ({exc.__class__.__name__} at byte {getattr(exc, 'start', '?')})") from None
    return text.lstrip("\ufeff")


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[BinaryIO | None]:
    """`path` opened for reading if it is a regular file, else None. Opened non-blocking, so that a
    FIFO does not wait for a writer (which `open()` would, forever)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        yield None
        return
    with os.fdopen(fd, "rb") as fh:
        yield fh


def _source_encoding(name: str) -> bool:
    """Whether Python accepts `name` in a coding cookie: a known text encoding (not rot13, zlib or hex),
    and not punycode (which Python refuses, and whose decoder is quadratic)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return True  # reported as undecodable text below
    return getattr(info, "_is_text_encoding", True) and info.name != "punycode"


_CODE_STRINGS = re.compile(r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|\#[^\n]*''')


def code_bytes(text: str) -> int:
    """Characters of `text` outside string literals and comments (an approximate lexer: enough to bound
    the parser's work before running it)."""
    if len(text) <= MAX_CODE_BYTES:
        return len(text)
    return len(_CODE_STRINGS.sub("", text))


def parse_python(text: str, display: str) -> ast.Module:
    """Parse with Python's own grammar (falling back to LibCST for newer f-string syntax); every
    failure, and code too large or too deeply nested to analyze, becomes a one-line InputError."""
    size = code_bytes(text)
    if size > MAX_CODE_BYTES:
        raise InputError(f"{display}: {size:,} bytes of code (outside strings and comments) is more than the "
                         f"{MAX_CODE_BYTES:,}-byte limit for analysis")
    tree = _parse(text, display)
    nodes, depth = shape(tree)
    if depth > MAX_AST_DEPTH:
        raise InputError(f"{display}: code nested {depth} levels deep; more than {MAX_AST_DEPTH} is not analyzed")
    tree._pgolf_size = nodes  # type: ignore[attr-defined]  # read by the loader's budget
    return tree


def _parse(text: str, display: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=display)
    except SyntaxError as exc:
        newer = downgrade(text) if "f" in text else None
        if newer is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return ast.parse(newer, filename=display)
            except (SyntaxError, RecursionError, MemoryError, OverflowError, ValueError):
                pass
        hint = " (Python 2 code?)" if _looks_like_python2(text) else ""
        raise InputError(f"{display}:{exc.lineno or 0}: syntax error: {exc.msg}{hint}") from None
    except (RecursionError, MemoryError):
        raise InputError(f"{display}: nesting too deep to parse") from None
    except (ValueError, OverflowError) as exc:  # NUL bytes; a line too long for the parser's column offsets
        raise InputError(f"{display}: cannot parse: {exc}") from None


def _looks_like_python2(text: str) -> bool:
    return bool(re.search(r"^\s*print\s+[\"'\w]", text, re.M) or re.search(r"except\s+\w+\s*,\s*\w+\s*:", text))


def load(target: Path) -> Submission:
    """Load a `.py` file or a records folder; raise InputError for input that cannot be audited."""
    display = str(target)
    if not target.exists():
        raise InputError(f"{display}: no such file or folder")
    if target.is_dir():
        root = target
        headline = find_headline(root)
        is_folder = True
    else:
        if target.suffix != ".py":
            raise InputError(f"{display}: not a Python file or a records folder")
        root, headline, is_folder = target.parent, target.name, False
    loader = _Loader(root, link_main=not is_folder)
    loader.add_file(headline, role="main", module=None)
    return Submission(root, display, loader.units, loader.problems, headline, is_folder)


def find_headline(root: Path) -> str:
    """The script that produced the folder's headline number.

    README and log run commands (`torchrun ... train_xyz.py`) name it first; then a log whose embedded
    source or header names a script; then `train_gpt.py`; then the only script with a `__main__` guard.
    """
    scripts = sorted(p.name for p in root.glob("*.py") if p.is_file())
    if not scripts:
        nested = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if p.is_file())
        if not nested:
            raise InputError(f"{root}: folder holds no Python file to audit")
        scripts = nested
    mentioned = _scripts_in_run_commands(root, scripts)
    if mentioned:
        return mentioned[0]
    if "train_gpt.py" in scripts:
        return "train_gpt.py"
    with_main = [s for s in scripts if "__main__" in read_head(root / s)]
    candidates = with_main or scripts
    return max(candidates, key=lambda s: _size(root / s))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone since it was listed
        return -1


_LAUNCHER = re.compile(r"(torchrun|python3?|accelerate launch|deepspeed)\b")
_PATH_TOKEN = re.compile(r"[\w./-]++")  # possessive: each run of path characters is scanned once
_PY_END = re.compile(r"\.py(?!\w)")


def run_commands(text: str):  # -> Iterator[tuple[str, str]]
    """(launcher, script) for each run command in `text`: a launcher word and the first `name.py` after
    it on the same line, not across a backtick (`torchrun --nproc 8 train_gpt.py`).

    Equivalent to matching a lazy regex (launcher, then any non-backtick characters, then a path ending in
    `.py`) over each line, but linear: that regex backtracks quadratically on a long line of launcher
    words with no script after them (a hostile README took hours)."""
    for line in text.split("\n"):
        if ".py" not in line:
            continue
        spans: list[tuple[int, int, int]] = []  # (token start, end of its last ".py", token end) of tokens naming a script
        for t in _PATH_TOKEN.finditer(line):
            ends = [m.end() for m in _PY_END.finditer(t.group())]
            if ends:
                spans.append((t.start(), t.start() + ends[-1], t.end()))
        if not spans:
            continue
        token_ends = [end for _, _, end in spans]
        ticks = [i for i, ch in enumerate(line) if ch == "`"]
        pos = 0
        while True:
            m = _LAUNCHER.search(line, pos)
            if m is None:
                break
            after = m.end()
            k = bisect.bisect_right(token_ends, after)
            found = None
            for start, py_end, _ in spans[k:]:
                begin = max(start, after)
                if py_end - begin >= 4:  # at least one character before ".py"
                    found = (begin, py_end)
                    break
            tick = ticks[bisect.bisect_left(ticks, after)] if ticks and ticks[-1] >= after else None
            if found is None or (tick is not None and tick < found[0]):
                pos = after
                continue
            yield m.group(1), line[found[0]:found[1]]
            pos = found[1]


def _scripts_in_run_commands(root: Path, scripts: list[str]) -> list[str]:
    """Scripts named by run commands in README.md and in logs, best evidence first: a distributed
    launch (torchrun) outweighs `python prep.py` data-preparation commands."""
    counts: dict[str, int] = {}
    sources = [root / "README.md"] + sorted(root.glob("*.log")) + sorted(root.glob("*.txt"))
    for path in sources:
        text = read_head(path, limit=2_000_000)
        for launcher, script in run_commands(text):
            name = Path(script).name
            if name in scripts:
                weight = (10 if launcher in ("torchrun", "deepspeed", "accelerate launch") else 1) * (3 if path.name == "README.md" else 1)
                counts[name] = counts.get(name, 0) + weight
    return sorted(counts, key=lambda s: (-counts[s], "train" not in s, s))


def read_head(path: Path, limit: int = 4_000_000) -> str:
    """The beginning of a regular file as text; "" for anything else (a FIFO would block forever)."""
    try:
        with _open_regular(path) as fh:
            return "" if fh is None else fh.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


class _Loader:
    def __init__(self, root: Path, link_main: bool = False):
        self.root = root
        self.link_main = link_main  # the script is a file the user named: follow it wherever it links
        self.units: list[Unit] = []
        self.problems: list[Problem] = []
        self.seen_files: set[str] = set()
        self.nodes = 0  # parsed syntax nodes so far (MAX_NODES)
        self.decoding = DecodeBudget()  # exec payload decoding, shared by every unit

    def _outside(self, path: Path) -> str | None:
        """Why `path` must not be read: it resolves outside the folder (through a link to a file or to a
        directory on the way), or it is a link loop. None when it is inside."""
        try:
            inside = path.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):  # RuntimeError: a link loop (Python 3.11)
            return "is a symbolic link loop; not followed"
        return None if inside else "is a symbolic link pointing outside the folder; not followed"

    def _budget(self, tree: ast.Module, where: str) -> str | None:
        """Count a parsed tree against the submission's node budget; the reason when it does not fit."""
        size = getattr(tree, "_pgolf_size", 0)
        if self.nodes + size > MAX_NODES:
            return f"{where}: more than {MAX_NODES:,} syntax nodes in the submission; too large to analyze"
        self.nodes += size
        return None

    def add_file(self, rel: str, role: str, module: str | None, run_at: tuple[int, int] | None = None) -> None:
        if rel in self.seen_files or len(self.units) >= MAX_UNITS:
            return
        self.seen_files.add(rel)
        path = self.root / rel
        why = None if (role == "main" and self.link_main) else self._outside(path)
        if why is not None:
            if role == "main":
                raise InputError(f"{self.root / rel}: {why}")
            self.problems.append(Problem(rel, 0, why))
            return
        try:
            text = read_python(path, rel)
            tree = parse_python(text, rel)
            too_big = self._budget(tree, rel)
            if too_big:
                raise InputError(too_big)
        except InputError as exc:
            if role == "main":
                raise
            self.problems.append(Problem(rel, 0, str(exc)))
            return
        self._add_unit(Unit(rel, text, tree, role, module=module, run_at=run_at), depth=0)

    def _add_unit(self, unit: Unit, depth: int) -> None:
        self.units.append(unit)
        for payload in find_payloads(unit.tree, self.decoding):
            self._add_payload(unit, payload, depth)
        self._follow_local_code(unit)

    def _add_payload(self, parent: Unit, payload: Payload, depth: int) -> None:
        line = parent.decoded_at or payload.line
        if payload.code is None:
            self.problems.append(Problem(parent.file, line, f"exec/eval payload not analyzed: {payload.error}"))
            return
        if depth + 1 > 6:
            self.problems.append(Problem(parent.file, line, "exec payloads nested more than 6 deep; not analyzed"))
            return
        try:
            where = f"{parent.file}{DECODED_SUFFIX.format(line=line)}"
            tree = parse_python(payload.code, where)
            too_big = self._budget(tree, where)
            if too_big:
                raise InputError(too_big)
        except InputError as exc:
            self.problems.append(Problem(parent.file, line, str(exc)))
            return
        if len(self.units) >= MAX_UNITS:
            self.problems.append(Problem(parent.file, line, f"more than {MAX_UNITS} source units; the rest not analyzed"))
            return
        unit = Unit(parent.file, payload.code, tree, "decoded", module=parent.module, decoded_at=line, chain=payload.chain,
                    run_at=(self.units.index(parent), payload.line), namespace=payload.namespace)
        self._add_unit(unit, depth + 1)

    def _follow_local_code(self, unit: Unit) -> None:
        """Imports of folder modules, `exec(open(f).read())`, `runpy.run_path(f)`, `importlib.import_module(m)`."""
        aliases = import_aliases(unit.tree)
        for node in walk(unit.tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Call)):
                continue
            for name in self._local_modules(node):
                rel = self._module_file(name)
                if rel:
                    self.add_file(rel, "helper", module=name)
            path_expr = None
            if isinstance(node, ast.Call):
                func = node.func
                fname = func.id if isinstance(func, ast.Name) else None
                if runs_code(node, unit.tree) and node.args:
                    path_expr = file_read_path(node.args[0])
                elif isinstance(func, ast.Attribute) and node.args:
                    qual = aliases.get(getattr(func.value, "id", ""), "")
                    if qual == "runpy" and func.attr in ("run_path", "run_module"):
                        path_expr = node.args[0]
                    elif qual == "importlib" and func.attr == "import_module":
                        self._follow_module_literal(node.args[0])
                elif fname == "__import__" and node.args:
                    self._follow_module_literal(node.args[0])
            if path_expr is not None:
                rel = self._literal_file(path_expr)
                if rel:
                    self.add_file(rel, "helper", module=None, run_at=(self.units.index(unit), node.lineno))

    def _follow_module_literal(self, expr: ast.expr) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            rel = self._module_file(expr.value)
            if rel:
                self.add_file(rel, "helper", module=expr.value)

    @staticmethod
    def _local_modules(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom):
            if node.level and not node.module:
                return [a.name for a in node.names]
            return [node.module] if node.module else []
        return []

    def _module_file(self, dotted: str) -> str | None:
        if not dotted or not all(part.isidentifier() for part in dotted.split(".")):
            return None  # `__import__("")`, `import_module("/etc/x")`: not a module of the folder
        base = Path(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if (self.root / candidate).is_file():
                return str(candidate)
        return None

    def _literal_file(self, expr: ast.expr) -> str | None:
        """The folder file a path expression names: a literal, or `os.path.join(<anything>, "x.py")`."""
        literal: str | None = None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            literal = expr.value
        elif isinstance(expr, ast.Call) and expr.args:
            last = expr.args[-1]
            if isinstance(last, ast.Constant) and isinstance(last.value, str):
                literal = last.value
        elif isinstance(expr, ast.BinOp) and isinstance(expr.right, ast.Constant) and isinstance(expr.right.value, str):
            literal = expr.right.value.lstrip("/")
        if not literal:
            return None
        name = Path(literal).name
        return name if (self.root / name).is_file() else None
