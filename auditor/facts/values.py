"""Constant evaluation of feature flags: which `if` branches run with the default (or given) environment.

Record scripts switch mechanisms on with environment variables read into a config class
(`ngram_order = int(os.environ.get("NGRAM_EVAL_ORDER", "0"))`) or small helpers
(`env_flag("SLOT", False)`). This evaluates that small language — literals, env reads with defaults,
int/float/bool/str, comparisons, boolean logic, arithmetic, config attributes and one-expression
helper functions — and answers UNKNOWN for everything else, so an unknown guard never hides code.
"""
from __future__ import annotations

import ast
import operator
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..syntax import walk
from .program import Function, Program, class_statements

UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()

_CMP = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_BIN = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CASTS = {"int": int, "float": float, "bool": bool, "str": str}
_STR_METHODS = ("lower", "upper", "strip", "lstrip", "rstrip")


@dataclass(frozen=True)
class EnvRead:
    """One environment variable the code reads, with its default as written."""

    key: str
    default: Any  # evaluated default, None when absent, UNKNOWN when not a constant
    file: str
    line: int


class Evaluator:
    def __init__(self, program: Program, env: dict[str, str]):
        self.program = program
        self.env = env
        self.attributes: dict[str, list[tuple[ast.expr, Function]]] = {}
        self.locals: dict[tuple[int, str], list[ast.expr]] = {}
        self.env_reads: list[EnvRead] = []
        self._truths: dict[tuple[int, int], bool | None] = {}
        self._nodes: dict[int, list[ast.AST]] = {id(f): list(_own_nodes(f)) for f in program.functions}
        self._statements: dict[int, list[ast.stmt]] = {id(f): _own_statements(f) for f in program.functions}
        self._collect()

    # -- indexing ---------------------------------------------------------------------------
    def _collect(self) -> None:
        for fn in self.program.functions:
            for stmt in self._statements[id(fn)]:
                for target, value in _assignments(stmt):
                    if isinstance(target, ast.Name):
                        self.locals.setdefault((id(fn), target.id), []).append(value)
                    elif isinstance(target, ast.Attribute):
                        self.attributes.setdefault(target.attr, []).append((value, fn))
        for infos in self.program.classes.values():
            for info in infos:
                body_fn = self.program.module_body[id(info.unit)]
                for stmt in class_statements(info.node):
                    for target, value in _assignments(stmt):
                        if isinstance(target, ast.Name):
                            self.attributes.setdefault(target.id, []).append((value, body_fn))
        for fn in self.program.functions:
            for node in self._nodes[id(fn)]:
                key_default = self._env_call(node)
                if key_default is not None:
                    key, default_node = key_default
                    default = None if default_node is None else self.eval(default_node, fn)
                    self.env_reads.append(EnvRead(key, default, fn.unit.file, getattr(node, "lineno", 0)))

    def env_read(self, node: ast.AST) -> tuple[str, ast.expr | None] | None:
        """(key, default expression) when `node` reads an environment variable, else None."""
        return self._env_call(node)

    def _env_call(self, node: ast.AST) -> tuple[str, ast.expr | None] | None:
        """(key, default expression) for `os.environ.get(K, D)`, `os.getenv(K, D)`, `os.environ[K]`."""
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("get", "getenv", "pop"):
                owner = _dotted(func.value)
                if owner in ("os.environ", "environ", "os") or owner.endswith(".environ"):
                    default = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "default"), None)
                    return node.args[0].value, default
            if isinstance(func, ast.Name) and func.id == "getenv":
                return node.args[0].value, node.args[1] if len(node.args) > 1 else None
        if isinstance(node, ast.Subscript) and _dotted(node.value).endswith("environ"):
            sl = node.slice
            if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                return sl.value, None
        return None

    def attribute_env_keys(self) -> dict[str, str]:
        """Config attribute -> the environment variable it is read from (`ppm_enabled` -> PPM_ENABLED)."""
        out: dict[str, str] = {}
        for attr, candidates in self.attributes.items():
            for expr, _ in candidates:
                for node in walk(expr):
                    found = self._env_call(node)
                    if found is not None:
                        out.setdefault(attr, found[0])
                        break
        return out

    def apply_logged_settings(self, settings: dict[str, str]) -> dict[str, str]:
        """Add to the environment what logs printed for config attributes (`ppm_enabled: True`) when the
        run command did not set that variable; returns what was added."""
        added: dict[str, str] = {}
        for attr, key in self.attribute_env_keys().items():
            if attr in settings and key not in self.env:
                value = {"True": "1", "False": "0", "None": ""}.get(settings[attr], settings[attr])
                self.env[key] = added[key] = value
        if added:
            self._truths.clear()
        return added

    def apply_observed_logs(self, log_text: str) -> dict[str, str]:
        """Switch on flags whose guarded log lines appear in the run's logs.

        A branch that is off with the current environment but prints a distinctive literal (`slot_lr=`,
        `ppm_mix val_bpb:`) that the submitted logs contain, or calls a function that does, did run;
        the environment variable its condition reads is set to "1". Returns what was added."""
        added: dict[str, str] = {}
        if not log_text:
            return added
        owners: dict[str, int] = {}  # fragment -> how many functions contain it
        per_fn = {id(f): _strings(self._nodes[id(f)]) for f in self.program.functions if not isinstance(f.node, ast.Module)}
        for frags in per_fn.values():
            for x in frags:
                owners[x] = owners.get(x, 0) + 1
        unique = {x for x, n in owners.items() if n == 1 and x in log_text}  # printed by one function only
        printed = {f.name for f in self.program.functions if per_fn.get(id(f), set()) & unique}
        for fn in self.program.functions:
            in_fn: Counter[str] | None = None  # fragment -> occurrences in the function, counted when needed
            for node in [*self._statements[id(fn)], *self._nodes[id(fn)]]:
                if not isinstance(node, (ast.If, ast.IfExp)):
                    continue
                if self.truth(node.test, fn) is not False:
                    continue
                body = node.body if isinstance(node, ast.If) else [node.body]
                called = {getattr(c.func, "attr", getattr(c.func, "id", "")) for b in body for c in walk(b) if isinstance(c, ast.Call)}
                in_branch = Counter(x for b in body for x in map(_fragment, walk(b)) if x in unique)
                if in_branch and in_fn is None:
                    in_fn = Counter(x for x in map(_fragment, self._nodes[id(fn)]) if x)
                # only what this branch alone prints: `val_bpb:` printed elsewhere in the function proves nothing
                alone = [x for x, n in in_branch.items() if in_fn is not None and in_fn[x] <= n]
                if called & printed or alone:
                    for key, default in self._env_keys_of(node.test, fn):
                        if key not in self.env and _off_flag(default):
                            self.env[key] = added[key] = "1"
        if added:
            self._truths.clear()
        return added

    def _env_keys_of(self, test: ast.expr, fn: Function, depth: int = 0) -> list[tuple[str, ast.expr | None]]:
        """(variable, default expression) for each environment variable a condition reads, through local
        variables and config attributes."""
        keys: list[tuple[str, ast.expr | None]] = []
        for node in walk(test):
            found = self._env_call(node)
            if found:
                keys.append(found)
            elif depth < 3 and isinstance(node, (ast.Name, ast.Attribute)):
                name = node.id if isinstance(node, ast.Name) else node.attr
                sources = self.locals.get((id(fn), name), []) if isinstance(node, ast.Name) else []
                sources = sources or [e for e, _ in self.attributes.get(name, [])]
                for expr in sources[:3]:
                    keys.extend(self._env_keys_of(expr, fn, depth + 1))
        return keys

    # -- evaluation -------------------------------------------------------------------------
    def eval(self, node: ast.expr | None, fn: Function, depth: int = 0, bindings: dict[str, Any] | None = None) -> Any:
        if node is None or depth > 12:
            return UNKNOWN
        try:
            return self._eval(node, fn, depth, bindings or {})
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError, IndexError, KeyError, RecursionError):
            return UNKNOWN

    def _eval(self, node: ast.expr, fn: Function, depth: int, bindings: dict[str, Any]) -> Any:
        ev = lambda n: self.eval(n, fn, depth + 1, bindings)  # noqa: E731
        if isinstance(node, ast.Constant):
            return node.value
        env = self._env_call(node)
        if env is not None:
            key, default = env
            if key in self.env:
                return self.env[key]
            return None if default is None and not isinstance(node, ast.Subscript) else (ev(default) if default is not None else UNKNOWN)
        if isinstance(node, ast.Name):
            if node.id in bindings:
                return bindings[node.id]
            return self._lookup_name(node.id, fn, depth)
        if isinstance(node, ast.Attribute):
            return self._single(self.attributes.get(node.attr, []), depth)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if v is UNKNOWN:
                return UNKNOWN
            return (not v) if isinstance(node.op, ast.Not) else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            if isinstance(node.op, ast.And):
                if any(v is not UNKNOWN and not v for v in values):
                    return False
                return UNKNOWN if any(v is UNKNOWN for v in values) else values[-1]
            if any(v is not UNKNOWN and v for v in values):
                return next(v for v in values if v is not UNKNOWN and v)
            return UNKNOWN if any(v is UNKNOWN for v in values) else values[-1]
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)
                if left is UNKNOWN or right is UNKNOWN or type(op) not in _CMP:
                    return UNKNOWN
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            a, b = ev(node.left), ev(node.right)
            return UNKNOWN if a is UNKNOWN or b is UNKNOWN else _BIN[type(node.op)](a, b)
        if isinstance(node, ast.IfExp):
            test = ev(node.test)
            if test is UNKNOWN:
                a, b = ev(node.body), ev(node.orelse)
                return a if a == b and a is not UNKNOWN else UNKNOWN
            return ev(node.body) if test else ev(node.orelse)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = [ev(e) for e in node.elts]
            return UNKNOWN if any(i is UNKNOWN for i in items) else tuple(items)
        if isinstance(node, ast.Call):
            return self._eval_call(node, fn, depth, bindings)
        return UNKNOWN

    def _eval_call(self, node: ast.Call, fn: Function, depth: int, bindings: dict[str, Any]) -> Any:
        ev = lambda n: self.eval(n, fn, depth + 1, bindings)  # noqa: E731
        func = node.func
        if isinstance(func, ast.Name) and func.id in _CASTS and len(node.args) == 1:
            v = ev(node.args[0])
            if v is UNKNOWN or v is None:
                return UNKNOWN
            if func.id in ("int", "float") and isinstance(v, str):
                v = v.strip()
                return int(v) if func.id == "int" and v.lstrip("-").isdigit() else float(v) if func.id == "float" else int(float(v))
            return _CASTS[func.id](v)
        if isinstance(func, ast.Name) and func.id == "getattr" and 2 <= len(node.args) <= 3 and \
                isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            # `getattr(args, "slot_enabled", False)`: the attribute as `args.slot_enabled` reads, else the default
            candidates = self.attributes.get(node.args[1].value, [])
            if candidates:
                return self._single(candidates, depth)
            return ev(node.args[2]) if len(node.args) == 3 else UNKNOWN
        if isinstance(func, ast.Attribute) and func.attr in _STR_METHODS and not node.args:
            v = ev(func.value)
            return getattr(v, func.attr)() if isinstance(v, str) else UNKNOWN
        if isinstance(func, ast.Attribute) and func.attr == "join" and len(node.args) == 1 and not node.keywords:
            sep, parts = ev(func.value), ev(node.args[0])  # `"".join(("st", "ep"))`: a name assembled from literals
            if isinstance(sep, str) and isinstance(parts, tuple) and all(isinstance(p, str) for p in parts):
                return sep.join(parts)
            return UNKNOWN
        if isinstance(func, ast.Name):
            for target in self.program.by_name.get(func.id, []):
                ret = _single_return(target)
                if ret is not None and len(node.args) <= len(target.params):
                    binding = {p: ev(a) for p, a in zip(target.params, node.args)}
                    defaults = _defaults(target)
                    for p in target.params:
                        if p not in binding:
                            kw = next((k.value for k in node.keywords if k.arg == p), None)
                            binding[p] = ev(kw) if kw is not None else self.eval(defaults.get(p), target, depth + 1)
                    return self.eval(ret, target, depth + 1, binding)
        return UNKNOWN

    def _lookup_name(self, name: str, fn: Function, depth: int) -> Any:
        cur: Function | None = fn
        while cur is not None:
            values = self.locals.get((id(cur), name))
            if values:
                return self._single([(v, cur) for v in values], depth)
            cur = cur.parent
        body = self.program.module_body[id(fn.unit)]
        values = self.locals.get((id(body), name))
        return self._single([(v, body) for v in values], depth) if values else UNKNOWN

    def _single(self, candidates: list[tuple[ast.expr, Function]], depth: int) -> Any:
        """The value when every assignment agrees; UNKNOWN otherwise (or when there are too many)."""
        if not candidates or len(candidates) > 6:
            return UNKNOWN
        values = {repr(v): v for v in (self.eval(e, f, depth + 1) for e, f in candidates)}
        if len(values) != 1:
            return UNKNOWN
        return next(iter(values.values()))

    def truth(self, node: ast.expr, fn: Function) -> bool | None:
        """True / False when the condition is decided by constants and the environment, else None."""
        key = (id(node), id(fn))
        if key not in self._truths:
            self._truths[key] = self._truth(node, fn)
        return self._truths[key]

    def _truth(self, node: ast.expr, fn: Function) -> bool | None:
        v = self.eval(node, fn)
        if v is UNKNOWN:
            return None
        try:
            return bool(v)
        except Exception:
            return None


def _off_flag(default: ast.expr | None) -> bool:
    """An environment default that reads as a switched-off flag (unset, "0", "false", ...): only such a
    variable is switched on by its branch's log lines. A numeric setting (TRAIN_SEQ_LEN="2048") is left be."""
    if default is None:
        return True
    return isinstance(default, ast.Constant) and str(default.value).strip().lower() in ("", "0", "false", "no", "off",
                                                                                         "none")


def _fragment(node: ast.AST) -> str | None:
    """A string constant distinctive enough to recognize in a log line (f-string parts included)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value.strip()
        if len(text) >= 8 and any(c.isalpha() for c in text) and ("_" in text or ":" in text or "=" in text):
            return text
    return None


def _strings(nodes) -> set[str]:
    return {x for x in map(_fragment, nodes) if x}


def _dotted(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


_UNKNOWN_EXPR = ast.Name(id="<unknown>", ctx=ast.Load())  # evaluates to UNKNOWN


def _assignments(stmt: ast.stmt) -> list[tuple[ast.expr, ast.expr]]:
    """(target, value) pairs a statement binds; values that cannot be paired evaluate to UNKNOWN."""
    if isinstance(stmt, ast.Assign):
        out: list[tuple[ast.expr, ast.expr]] = []
        for t in stmt.targets:
            if isinstance(t, (ast.Name, ast.Attribute)):
                out.append((t, stmt.value))
            elif isinstance(t, (ast.Tuple, ast.List)):
                values = stmt.value.elts if isinstance(stmt.value, (ast.Tuple, ast.List)) and len(stmt.value.elts) == len(t.elts) else None
                for i, elt in enumerate(t.elts):
                    if isinstance(elt, (ast.Name, ast.Attribute)):
                        out.append((elt, values[i] if values else _UNKNOWN_EXPR))
        return out
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, (ast.Name, ast.Attribute)):
        return [(stmt.target, _UNKNOWN_EXPR)]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [(n, _UNKNOWN_EXPR) for n in walk(stmt.target) if isinstance(n, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        value = stmt.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", "")) == "field":
            value = next((k.value for k in value.keywords if k.arg == "default"), None)  # dataclass field(default=...)
            if value is None:
                return []
        return [(stmt.target, value)]
    return []


def _own_statements(fn: Function) -> list[ast.stmt]:
    """All statements of a function, nested blocks included, but not those of nested defs/classes."""
    out: list[ast.stmt] = []
    stack = list(fn.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        out.append(stmt)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, name, None)
            if isinstance(block, list):
                stack.extend(s for s in block if isinstance(s, ast.stmt))
        for handler in getattr(stmt, "handlers", []) or []:
            stack.extend(handler.body)
        for case in getattr(stmt, "cases", []) or []:
            stack.extend(case.body)
    return out


def _own_nodes(fn: Function):
    for stmt in _own_statements(fn):
        for name, value in ast.iter_fields(stmt):
            if name in ("body", "orelse", "finalbody", "handlers", "cases"):
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, ast.AST):
                    yield from walk(item)


def _single_return(fn: Function) -> ast.expr | None:
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return):
        return body[0].value
    return None


def _defaults(fn: Function) -> dict[str, ast.expr]:
    node = fn.node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {}
    positional = node.args.posonlyargs + node.args.args
    out = {a.arg: d for a, d in zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults)}
    out.update({a.arg: d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None})
    return out
