"""Calls whose target is named by a constant: read as the plain call they spell.

`getattr(opt, "st" + "ep")()` steps the optimizer as `opt.step()` does; `operator.methodcaller("step")(opt)`
too; `globals()["adapt_" + "stream"](...)` and `PHASES["polish"](...)` (a dict display of the program's
functions) call that function. The data flow follows calls by name, so such a call is rewritten into its
plain form before the flow reads it. A name is resolved only when it folds to one constant string under
the effective environment (literals, `+`, `str.join`, module constants, config attributes with env
defaults: the `Evaluator`); anything else stays a dynamic call (AUDIT-002 reports those either way).
"""
from __future__ import annotations

import ast

from .program import Function, Program
from .values import Evaluator

_MAX_STEPS = 3  # rewrites of one call: `globals()["advance"](opt)` with `advance = methodcaller("step")` takes two


class StaticCalls:
    """The plain form of each call of a program, computed once per call node."""

    def __init__(self, program: Program, evaluator: Evaluator):
        self.program = program
        self.ev = evaluator
        self._plain: dict[int, tuple[ast.Call, ast.Call]] = {}  # id(call) -> (call, its plain form)

    def plain(self, node: ast.Call, fn: Function) -> ast.Call:
        """`node` with a constant-named target replaced by the attribute or function it names (else `node`).

        The plain form keeps `node`'s location and shares its argument nodes, so labels and evidence lines
        are those of the written call."""
        cached = self._plain.get(id(node))
        if cached is None or cached[0] is not node:
            cached = (node, self._rewrite(node, fn))
            self._plain[id(node)] = cached
        return cached[1]

    def _rewrite(self, node: ast.Call, fn: Function) -> ast.Call:
        out = node
        for _ in range(_MAX_STEPS):
            step = self._step(out, fn)
            if step is None:
                return out
            out = ast.copy_location(step, node)
        return out

    def _step(self, node: ast.Call, fn: Function) -> ast.Call | None:
        """One rewrite of the called expression, or None when it names nothing constant."""
        func = node.func
        if isinstance(func, ast.Name):
            bound = self._binding(func.id, fn)  # `update = getattr(opt, name)`, `advance = methodcaller("step")`
            if bound is None:
                return None
            func = bound
        if isinstance(func, ast.Call):
            return self._through_accessor(node, func, fn)
        if isinstance(func, ast.Subscript):
            target = self._namespace_entry(func, fn)
            return None if target is None else _call(target, node.args, node.keywords, node)
        return None

    def _through_accessor(self, node: ast.Call, accessor: ast.Call, fn: Function) -> ast.Call | None:
        """`getattr(obj, NAME)(...)` -> `obj.NAME(...)`; `methodcaller(NAME, *a)(obj)` -> `obj.NAME(*a)`."""
        qual = self.program.qualified(accessor.func, fn)
        if qual in ("getattr", "builtins.getattr") and len(accessor.args) in (2, 3) and "getattr" not in self.program.by_name:
            name = self._name(accessor.args[1], fn)
            if name is None:
                return None
            return _call(_attribute(accessor.args[0], name, node), node.args, node.keywords, node)
        if qual == "operator.methodcaller" and accessor.args and len(node.args) == 1 and not node.keywords:
            name = self._name(accessor.args[0], fn)
            if name is None:
                return None
            return _call(_attribute(node.args[0], name, node), accessor.args[1:], accessor.keywords, node)
        return None

    def _namespace_entry(self, sub: ast.Subscript, fn: Function) -> ast.expr | None:
        """What `globals()[KEY]` or `TABLE[KEY]` (a dict display with constant keys) holds under a constant key."""
        key = self._name(sub.slice, fn)
        if key is None:
            return None
        holder = sub.value
        if isinstance(holder, ast.Call) and self.program.qualified(holder.func, fn) == "globals" and not holder.args:
            return ast.copy_location(ast.Name(id=key, ctx=ast.Load()), sub)
        table = self._binding(holder.id, fn) if isinstance(holder, ast.Name) else None
        if not isinstance(table, ast.Dict):
            return None
        for k, v in zip(table.keys, table.values):
            if k is not None and self.ev.eval(k, fn) == key:
                return v if isinstance(v, (ast.Name, ast.Attribute)) else None  # a function reference, not a computed value
        return None

    def _name(self, node: ast.expr, fn: Function) -> str | None:
        """The identifier `node` folds to under the environment, or None."""
        value = self.ev.eval(node, fn)
        return value if isinstance(value, str) and value.isidentifier() else None

    def _binding(self, name: str, fn: Function) -> ast.expr | None:
        """The one value `name` is assigned in the nearest scope (enclosing functions, then the module) that
        assigns it; None when that scope assigns it more than once or none does."""
        scope: Function | None = fn
        while scope is not None:
            if name in scope.params:
                return None  # a parameter: bound by each caller
            values = self.ev.locals.get((id(scope), name))
            if values:
                return values[0] if len(values) == 1 else None
            scope = scope.parent
        values = self.ev.locals.get((id(self.program.module_body[id(fn.unit)]), name))
        return values[0] if values and len(values) == 1 else None


def _attribute(value: ast.expr, name: str, at: ast.AST) -> ast.Attribute:
    return ast.copy_location(ast.Attribute(value=value, attr=name, ctx=ast.Load()), at)


def _call(func: ast.expr, args: list[ast.expr], keywords: list[ast.keyword], at: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(func=func, args=list(args), keywords=list(keywords)), at)
