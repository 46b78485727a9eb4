"""Folder checks (RULES.md §5): location and name, required files, standard file names, a script
that compiles, declared third-party imports, and submission.json against its schema."""
from __future__ import annotations

import bisect
import io
import re
import sys
import tokenize

from auditor.verify.code import ScriptCode
from auditor.verify.context import Context, at_key, at_line
from auditor.verify.evidence import read_text
from reports.model import Finding

_FOLDER_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}_[^/]+$")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")
_NAME = r"[\w.]+(?:[ \t]+as[ \t]+\w+)?"
#: An import statement at the start of a line (group 1: its indentation) or after `:`/`;` on one line.
_IMPORT = re.compile(rf"(?:^([ \t]*)|[;:][ \t]*)(?:import[ \t]+({_NAME}(?:[ \t]*,[ \t]*{_NAME})*)"
                     rf"|from[ \t]+([\w.]+)[ \t]+import\b)", re.M)


def check_location(ctx: Context) -> list[Finding]:
    """SUB-FOLDER-001: the folder is records/<track>/YYYY-MM-DD_<name>.

    Source: README; 0hq on #53/#363; cocohearts on #1851 (YYYY-MM-DD_description)."""
    layout = ctx.ev.layout
    problems = []
    if layout.track is None:
        track = "record" if ctx.record_track else "non-record"
        problems.append(f"the path shows no records/{'|'.join(ctx.rules.tracks.values())} directory "
                        f"(checked as a {track}-track submission)")
    if not _FOLDER_NAME.match(layout.name):
        problems.append(f"the folder name {layout.name!r} is not YYYY-MM-DD_<description>")
    return [ctx.finding("SUB-FOLDER-001", "; ".join(problems))] if problems else []


def check_required(ctx: Context) -> list[Finding]:
    """SUB-002: README.md, submission.json, the training script and a train log are present.

    Source: README; valerio-oai on #529, #631, #639, #656, #674 (no submission.json or logs: not scorable)."""
    layout = ctx.ev.layout
    missing = []
    if layout.readme is None:
        missing.append("README.md")
    if layout.submission is None:
        missing.append("submission.json")
    if layout.script is None:
        missing.append("train_gpt.py")
    if not any(log.is_train_log for log in ctx.ev.logs):
        missing.append("a train log" + (" (the .log/.txt files here show no training run)" if layout.logs else ""))
    return [ctx.finding("SUB-002", "missing: " + ", ".join(missing))] if missing else []


def check_names(ctx: Context) -> list[Finding]:
    """SUB-NAME-001: the script is train_gpt.py and the metadata is submission.json.

    Source: README (records contain train_gpt.py and submission.json)."""
    layout = ctx.ev.layout
    odd = []
    if layout.script is not None and layout.script.name != "train_gpt.py":
        odd.append(f"the script is {layout.script.name}")
    if layout.submission is not None and layout.submission.name != "submission.json":
        odd.append(f"the metadata is {layout.submission.name}")
    return [ctx.finding("SUB-NAME-001", "; ".join(odd) + " instead of the standard name")] if odd else []


def check_compiles(ctx: Context, code: ScriptCode | None) -> list[Finding]:
    """SUB-003: the submitted script (and an unwrapped payload) compiles; nothing is executed.

    Source: README (the script must compile and run from inside the records folder)."""
    if code is None:
        return []
    out = []
    name = ctx.ev.layout.rel(code.path)
    for label, text in ((name, code.text), (f"{name} (unwrapped payload)", code.payload)):
        if text is None:
            continue
        try:
            compile(text, label, "exec", dont_inherit=True)
        except SyntaxError as exc:
            if sys.version_info < (3, 12) and "f-string" in (exc.msg or ""):
                continue  # PEP 701 f-strings (3.12+): this interpreter cannot decide; not the author's fault
            line = exc.lineno or 1
            out.append(ctx.finding("SUB-003", f"{label} does not compile: {exc.msg} (line {line})",
                                   at_line(name, line, (exc.text or "").strip())))
        except (ValueError, RecursionError, MemoryError) as exc:
            out.append(ctx.finding("SUB-003", f"{label} does not compile: {type(exc).__name__}: {exc}",
                                   at_line(name, 1, "")))
    return out


def _inside_try(lines: list[str], index: int, indent: int) -> bool:
    """True when the nearest enclosing block of line `index` is a `try:` (an import with a fallback)."""
    for j in range(index - 1, -1, -1):
        line = lines[j]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if depth < indent:
            return stripped.startswith("try:")
    return False


def third_party_imports(source: str, local: set[str]) -> dict[str, int]:
    """Top-level modules imported without a try/except fallback that are neither stdlib nor local
    files -> first line. A line scan: cheap, and exact for the import statements scripts use."""
    lines = source.splitlines()
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found: dict[str, int] = {}
    strings = _string_spans(source, starts)
    for m in _IMPORT.finditer(source):
        k = bisect.bisect_right(strings, (m.start(), float("inf"))) - 1
        if k >= 0 and strings[k][0] <= m.start() < strings[k][1]:   # `import x` written in a docstring
            continue
        lineno = bisect.bisect_right(starts, m.start()) - 1
        line = lines[lineno] if lineno < len(lines) else ""
        indent = len(line) - len(line.lstrip())
        if m.group(1) is None:  # inline: `try:import x` has a fallback, `if flag:import x` does not
            optional = "try:" in line[:m.start() - starts[lineno] + 1] or _inside_try(lines, lineno, indent)
        else:
            optional = _inside_try(lines, lineno, len(m.group(1).expandtabs()))
        names = [p.split()[0] for p in m.group(2).split(",")] if m.group(2) else [m.group(3)]
        for full in names:
            top = full.split(".")[0]
            if not top or top in sys.stdlib_module_names or top in local or top == "__future__" or optional:
                continue
            found.setdefault(top, lineno + 1)
    return found


def _string_spans(source: str, starts: list[int]) -> list[tuple[int, int]]:
    """Sorted (start, end) offsets of the string literals in `source`; none when it does not tokenize
    (then every line-start import counts, as before)."""
    spans = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING:
                spans.append((starts[tok.start[0] - 1] + tok.start[1], starts[tok.end[0] - 1] + tok.end[1]))
    except (tokenize.TokenError, IndentationError, SyntaxError, IndexError):
        return []
    return spans


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_requirements(ctx: Context, code: ScriptCode | None) -> list[Finding]:
    """SUB-004: packages beyond the challenge's base requirements are declared in requirements.txt.

    Source: README FAQ (2026-03-20): imports are allowed when listed in requirements.txt."""
    if code is None:
        return []
    layout = ctx.ev.layout
    local = {p.stem for p in layout.scripts} | {p.name for p in layout.root.iterdir() if p.is_dir()}
    names = ctx.param("SUB-004", "import_names")
    aliases = {_norm(k): [a.lower() for a in v] for k, v in ctx.param("SUB-004", "readme_aliases").items()}
    base = {_norm(r) for r in (*ctx.rules.base_requirements, *ctx.param("SUB-004", "installed_with_base"))}
    declared: set[str] = set()
    if layout.requirements is not None:
        for line in (read_text(layout.requirements) or "").splitlines():
            m = _REQUIREMENT.match(line)
            if m and not line.lstrip().startswith(("#", "-")):
                declared.add(_norm(m.group(1)))
    readme = ctx.ev.readme.lower()
    undeclared = []
    for module, lineno in third_party_imports(code.runnable, local).items():
        dist = _norm(names.get(module, module))
        if dist in base or dist in declared or _norm(module) in declared:
            continue
        spellings = {dist, module.lower(), dist.replace("-", "_"), *aliases.get(dist, [])}
        if any(word in readme for word in spellings):
            continue
        undeclared.append((module, dist, lineno))
    if not undeclared:
        return []
    where = "requirements.txt" if layout.requirements else "a requirements.txt (there is none)"
    listing = ", ".join(f"{m} (package {d})" if _norm(m) != d else m for m, d, _ in undeclared)
    name = layout.rel(code.path)
    first = undeclared[0][2]
    snippet = code.runnable.splitlines()[first - 1] if code.payload is None else ""
    return [ctx.finding("SUB-004", f"imports {listing} beyond the base requirements, not listed in {where} "
                                   f"or named in the README", at_line(name, first, snippet), confidence=0.8)]


def check_submission_schema(ctx: Context) -> list[Finding]:
    """SUB-006: submission.json is a JSON object that validates against submission.schema.json.

    Source: README (name, GitHub id, val_bpb, related metadata); keys seen in merged records."""
    sub = ctx.ev.submission
    if sub.path is None:
        return []
    name = ctx.ev.file(sub.path)
    if sub.error:
        return [ctx.finding("SUB-006", f"{name} is {sub.error}", at_line(name, 1, ""))]
    if not sub.schema_errors:
        return []
    first_key = sub.schema_errors[0].split(":", 1)[0].split("/")[0]
    return [ctx.finding("SUB-006", f"{name} does not match the schema: " + "; ".join(sub.schema_errors),
                        at_key(ctx.ev, first_key) if first_key != "(top level)" else at_line(name, 1, ""))]
