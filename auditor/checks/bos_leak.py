"""EVAL-BOS-001: previous-position mixing with no mask at document boundaries.

What it does
    Finds model code that mixes each position's hidden state with the previous position's
    (`x[:, 1:] + g * x[:, :-1]`, `cat([zeros, x[:, :-1]])`, `roll(x, 1, dims=1)`), as SmearGate does,
    in a function that never compares token ids to build a mask.

Why is this bad?
    Validation documents are packed into one stream; without a mask at BOS, the last token of document
    N leaks into the first position of document N+1. BigramHash-style embeddings of input ids are fine.

Example
    x = torch.cat([x[:, :1], x[:, 1:] + gate * x[:, :-1]], dim=1)

Use instead
    not_bos = (input_ids[:, 1:] != BOS_ID).unsqueeze(-1)
    x = torch.cat([x[:, :1], x[:, 1:] + gate * x[:, :-1] * not_bos], dim=1)

References
    cocohearts audit on #1797 (2026-04-26); fix in #1851, #1855, #1868. Submissions dated before the
    ruling are reported as information.
"""
from __future__ import annotations

import ast

from ..syntax import walk
from . import Check, Detection


def _is_prev_slice(node: ast.AST) -> bool:
    """`v[:, :-1]` (or `v[:-1]`): everything but the last position."""
    if not isinstance(node, ast.Subscript):
        return False
    sl = node.slice
    parts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
    for p in parts:
        if isinstance(p, ast.Slice) and p.lower is None and isinstance(p.upper, ast.UnaryOp) \
                and isinstance(p.upper.operand, ast.Constant) and p.upper.operand.value == 1:
            return True
    return False


def _is_shift(node: ast.AST) -> bool:
    """`v[:, :-1]`, `roll(v, 1, dims=1)`, or `F.pad(v, (0, 0, 1, 0))`: the previous position's values."""
    if _is_prev_slice(node):
        return True
    if isinstance(node, ast.Call):
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name == "roll":
            shifts = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "shifts"), None)
            return isinstance(shifts, ast.Constant) and shifts.value == 1
        if name == "pad" and len(node.args) > 1 and isinstance(node.args[1], ast.Tuple):
            pads = [e.value for e in node.args[1].elts if isinstance(e, ast.Constant)]
            return len(pads) >= 4 and pads[2:4] == [1, 0]
    return False


def _shift_sites(fn: ast.AST) -> list[ast.AST]:
    """Arithmetic that mixes a shifted tensor into the current positions, directly or through a
    variable holding the shifted values (`prev = cat([zeros, x[:, :-1]])`; `(1 - g) * x + g * prev`)."""
    shifted_vars = {t.id for n in walk(fn) if isinstance(n, ast.Assign) and any(_is_shift(c) for c in walk(n.value))
                    for t in n.targets if isinstance(t, ast.Name)}
    sites = []
    for node in walk(fn):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult, ast.Sub)):
            operands = [node.left, node.right] + [s for side in (node.left, node.right) if isinstance(side, ast.BinOp) for s in (side.left, side.right)]
            if any(_is_shift(o) or (isinstance(o, ast.Name) and o.id in shifted_vars) for o in operands):
                sites.append(node)
    return sites


def _has_id_mask(fn: ast.AST) -> bool:
    for node in walk(fn):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            return True
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("masked_fill", "masked_fill_"):
            return True
    return False


_HASHING = ("bitwise_xor", "bitwise_and", "remainder", "fmod", "long", "int")


def _is_index_math(node: ast.AST, fn: ast.AST) -> bool:
    """Shifts of integer ids feeding a hash (BigramHash): XOR / modulo / integer casts in the same statement."""
    for stmt in walk(fn):
        if isinstance(stmt, ast.stmt) and not isinstance(stmt, (ast.FunctionDef, ast.If, ast.For, ast.While, ast.With)) \
                and any(n is node for n in walk(stmt)):
            return any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.BitXor, ast.Mod, ast.BitAnd, ast.LShift)) or
                       isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in _HASHING
                       for n in walk(stmt))
    return False


def _mentions_shift(fn) -> bool:
    """Cheap pre-filter on the function's source before walking its tree."""
    text = "\n".join(fn.unit.lines[fn.line - 1:getattr(fn.node, "end_lineno", fn.line)])
    return ":-1]" in text or "roll(" in text or "pad(" in text


class BosLeak(Check):
    TECHNIQUE = "bos_leak"
    RULES = ("EVAL-BOS-001",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for fn in facts.program.functions:
            if fn.cls is None or fn.name.startswith("__") or not _mentions_shift(fn):
                continue
            sites = [s for s in _shift_sites(fn.node) if not _is_index_math(s, fn.node)]
            if not sites or _has_id_mask(fn.node):
                continue
            ev = fn.unit.evidence(sites[0].lineno)
            used = facts.class_used(fn.cls) and not facts.switched_off(fn, sites[0])
            msg = f"{fn.qualname} mixes each position with the previous one ({ev.file}:{ev.line}) and masks nothing at BOS"
            out.append(Detection(self.RULES[0], used, None, msg, (ev,), 0.6))
        return out[:2]
