"""BPB-CODE-001 / BPB-CODE-002: byte counting that differs from the canonical SentencePiece byte tables.

What it does
    Reads the byte look-up-table builder and the bits-per-byte formula and reports deviations from
    the canonical rule: the leading "▁" counted inside a piece's bytes while the evaluation also adds a
    space byte (double count), a boundary predicate without unused ids (BPB-CODE-001, review), or a
    constant bytes-per-token denominator instead of counting the validation bytes (BPB-CODE-002,
    violation: the number is not the validation set's bits per byte).

Why is this bad?
    BPB divides by the number of bytes; extra bytes lower the reported BPB without any modeling gain
    (about 17 % in the double-count lineage, #1719).

Example
    base_bytes[i] = len(piece.encode("utf-8"))          # "▁the" counts 6 bytes
    bytes += base_bytes[y] + has_leading_space[y]       # and the space again

Use instead
    Strip the leading "▁", remember `has_leading_space`, count the rest; add the space byte at
    evaluation only when the previous token is not a boundary.

References
    Root train_gpt.py `build_sentencepiece_luts`; Issue #1719, PR #1804; Issue #897; #1705; cocohearts on #2009.
"""
from __future__ import annotations

import ast
import re

from ..syntax import walk
from . import Check, Detection

_SPACE = "\u2581"


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _drops_space_marker(call: ast.Call) -> bool:
    """`piece.lstrip("▁")`, `.strip`, `.removeprefix("▁")`, `.replace("▁", "")`: the marker is removed.
    `.replace("▁", " ")` is not: it keeps a byte for the space."""
    method = getattr(call.func, "attr", "")
    if method in ("lstrip", "strip", "removeprefix"):
        return _SPACE in _strings(call)
    if method == "replace" and len(call.args) >= 2:
        old, new = call.args[0], call.args[1]
        return (isinstance(old, ast.Constant) and isinstance(old.value, str) and _SPACE in old.value
                and isinstance(new, ast.Constant) and new.value == "")
    return False


def _source(fn) -> str:
    """The function's source lines (a cheap pre-filter before walking its tree)."""
    return "\n".join(fn.unit.lines[fn.line - 1:getattr(fn.node, "end_lineno", fn.line)])


def _calls(node: ast.AST) -> set[str]:
    return {getattr(n.func, "attr", getattr(n.func, "id", "")) for n in walk(node) if isinstance(n, ast.Call)}


class BpbAccounting(Check):
    TECHNIQUE = "bpb_accounting"
    RULES = ("BPB-CODE-001", "BPB-CODE-002")

    def detect(self, facts) -> list[Detection]:
        out = []
        for fn in facts.program.functions:
            if fn.name == "<module>" or "to_piece" not in _source(fn).lower():
                continue
            calls = _calls(fn.node)
            if not ({"id_to_piece", "IdToPiece"} & calls and {"is_byte", "is_control", "is_unknown"} & calls):
                continue
            active = id(fn) in facts.trace.reached
            problem = self._lut_problem(fn.node, calls)
            if problem:
                line, msg = problem
                out.append(Detection(self.RULES[0], active, None, f"{fn.qualname}: {msg}", (fn.unit.evidence(line),), 0.6))
        out.extend(self._constant_denominator(facts))
        return out[:2]

    @staticmethod
    def _lut_problem(node: ast.AST, calls: set[str]) -> tuple[int, str] | None:
        strips = False
        for n in walk(node):
            if isinstance(n, ast.Call) and _drops_space_marker(n):
                strips = True
            if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Slice) and isinstance(n.slice.lower, ast.Constant) and n.slice.lower.value == 1:
                strips = True
        encodes = [n for n in walk(node) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "len"
                   and any(isinstance(a, ast.Call) and getattr(a.func, "attr", "") == "encode" for a in walk(n))]
        if encodes and not strips and _SPACE in _strings(node):
            return encodes[0].lineno, "counts the leading '▁' inside a piece's bytes while also tracking a separate leading-space byte"
        if {"is_control", "is_unknown"} <= calls and "is_unused" not in calls:
            line = next(n.lineno for n in walk(node) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "is_control")
            return line, "the boundary predicate omits unused ids (`is_unused`), which then count bytes"
        return None

    @staticmethod
    def _constant_denominator(facts) -> list[Detection]:
        for fn in facts.program.functions:
            if fn.name == "<module>" or "byte" not in _source(fn).lower():
                continue
            for n in walk(fn.node):
                if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and re.search(r"byte", ast.unparse(n.right), re.I):
                    value = facts.evaluator.eval(n.right, fn)
                    if isinstance(value, float) and 1.0 < value < 10.0:
                        msg = f"BPB divides by a constant {value} bytes per token instead of the validation bytes"
                        active = id(fn) in facts.trace.reached and not facts.switched_off(fn, n)
                        return [Detection("BPB-CODE-002", active, False, msg, (fn.unit.evidence(n.lineno),), 0.7)]
        return []
