"""Scripts in a records folder that the audited script does not run, read for one fact only:
which files they write from validation data (a "paid prefix" blob built offline)."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from ..facts import labels as L
from ..source import InputError, Submission, parse_python, read_python
from ..syntax import walk

_WRITERS = {"save", "tofile", "savez", "savez_compressed", "write", "write_bytes", "dump", "open"}


def validation_writers(sub: Submission) -> list[tuple[str, set[str]]]:
    """(script, file names it writes) for each sibling script that reads validation shards."""
    if not sub.in_run_context:
        return []  # a lone script: its neighbours are not part of a submission
    audited = {u.file for u in sub.units}
    out = []
    for path in sorted(sub.root.glob("*.py")):
        if path.name in audited:
            continue
        names = _val_written_files(path)
        if names:
            out.append((path.name, names))
    return out


@lru_cache(maxsize=64)
def _val_written_files(path: Path) -> frozenset[str]:
    try:
        tree = parse_python(read_python(path, path.name), path.name)
    except InputError:
        return frozenset()
    literals = {n.value for n in walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    reads_val = any(L.string_labels(s) == {L.VAL} for s in literals)
    writes = any(isinstance(n, ast.Call) and (getattr(n.func, "attr", None) or getattr(n.func, "id", None)) in _WRITERS
                 and any(isinstance(k, ast.Constant) and k.value in ("wb", "w") for k in n.args[1:2]) or
                 isinstance(n, ast.Call) and getattr(n.func, "attr", None) in ("tofile", "save", "savez", "write_bytes")
                 for n in walk(tree))
    if not (reads_val and writes):
        return frozenset()
    return frozenset(s.rsplit("/", 1)[-1] for s in literals if any(x.startswith(L.FILE) for x in L.string_labels(s)))
