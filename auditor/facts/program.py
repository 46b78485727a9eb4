"""The program index: every function and class of a submission's units, and how calls resolve.

Resolution is deliberately generous (an over-approximation): `obj.method()` reaches every program
method of that name, `model(x)` reaches every `forward` of a class the program defines. A mechanism
moved into a helper, a method or a renamed function is still reached; names never decide alone.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..source import Submission, Unit
from ..unwrap import dotted_name, import_aliases

MODULE_BODY = "<module>"


@dataclass(eq=False)
class Function:
    """A function, method, or a unit's module body (name "<module>")."""

    key: str
    name: str
    qualname: str
    unit: Unit
    node: ast.AST  # FunctionDef / AsyncFunctionDef, or the Module for a module body
    cls: str | None = None
    parent: "Function | None" = None  # enclosing function, for closures
    params: list[str] = field(default_factory=list)
    no_grad: bool = False  # decorated with torch.no_grad / inference_mode

    @property
    def body(self) -> list[ast.stmt]:
        if isinstance(self.node, ast.Module):
            return [s for s in self.node.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return self.node.body  # type: ignore[attr-defined]

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", 1)


@dataclass
class ClassInfo:
    name: str
    unit: Unit
    bases: list[str]
    node: ast.ClassDef
    methods: dict[str, Function] = field(default_factory=dict)


@dataclass
class Program:
    units: list[Unit]
    functions: list[Function]
    classes: dict[str, list[ClassInfo]]
    by_name: dict[str, list[Function]]  # top-level functions by bare name
    methods: dict[str, list[Function]]  # methods by bare name
    aliases: dict[int, dict[str, str]]  # id(unit) -> import aliases
    module_body: dict[int, Function]  # id(unit) -> its module body pseudo-function

    def aliases_of(self, fn: Function) -> dict[str, str]:
        return self.aliases[id(fn.unit)]

    def qualified(self, node: ast.AST, fn: Function) -> str | None:
        """Qualified dotted name of an expression (`F.cross_entropy` -> torch.nn.functional.cross_entropy)."""
        return dotted_name(node, self.aliases_of(fn))

    def class_named(self, name: str) -> list[ClassInfo]:
        return self.classes.get(name, [])

    def is_subclass_of(self, info: ClassInfo, suffixes: tuple[str, ...], seen: set[str] | None = None) -> bool:
        """True when a base (transitively, by name) ends with one of `suffixes` (e.g. "Optimizer")."""
        seen = seen or set()
        for base in info.bases:
            if base.endswith(suffixes):
                return True
            short = base.split(".")[-1]
            if short in seen:
                continue
            seen.add(short)
            if any(self.is_subclass_of(b, suffixes, seen) for b in self.class_named(short)):
                return True
        return False

    def method_of(self, cls: str, name: str, seen: set[str] | None = None) -> list[Function]:
        """A class's own method, or its program base classes' (by name)."""
        seen = seen or set()
        if cls in seen:
            return []
        seen.add(cls)
        out: list[Function] = []
        for info in self.class_named(cls):
            if name in info.methods:
                out.append(info.methods[name])
            else:
                for base in info.bases:
                    out.extend(self.method_of(base.split(".")[-1], name, seen))
        return out


_NO_GRAD = ("no_grad", "inference_mode")


def build_program(sub: Submission) -> Program:
    functions: list[Function] = []
    classes: dict[str, list[ClassInfo]] = {}
    by_name: dict[str, list[Function]] = {}
    methods: dict[str, list[Function]] = {}
    aliases: dict[int, dict[str, str]] = {}
    module_body: dict[int, Function] = {}

    for ui, unit in enumerate(sub.units):
        aliases[id(unit)] = import_aliases(unit.tree)
        body = Function(f"{ui}:{MODULE_BODY}", MODULE_BODY, MODULE_BODY, unit, unit.tree,
                        params=[name for name, _ in unit.namespace or ()])  # exec'd code: its namespace's names
        functions.append(body)
        module_body[id(unit)] = body

        def visit(stmts: list[ast.stmt], prefix: str, cls: ClassInfo | None, parent: Function | None) -> None:
            for stmt in stmts:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    qual = f"{prefix}{stmt.name}"
                    params = [a.arg for a in stmt.args.posonlyargs + stmt.args.args + stmt.args.kwonlyargs]
                    if stmt.args.vararg:
                        params.append(stmt.args.vararg.arg)
                    if stmt.args.kwarg:
                        params.append(stmt.args.kwarg.arg)
                    fn = Function(
                        f"{ui}:{qual}:{stmt.lineno}", stmt.name, qual, unit, stmt,
                        cls=cls.name if cls else None, parent=parent, params=params,
                        no_grad=any(_decorator_is_no_grad(d) for d in stmt.decorator_list),
                    )
                    functions.append(fn)
                    if cls is not None:
                        cls.methods[stmt.name] = fn
                        methods.setdefault(stmt.name, []).append(fn)
                    elif parent is None:
                        by_name.setdefault(stmt.name, []).append(fn)
                    visit(stmt.body, f"{qual}.<locals>.", None, fn)
                elif isinstance(stmt, ast.ClassDef):
                    bases = [dotted_name(b, aliases[id(unit)]) or "" for b in stmt.bases]
                    info = ClassInfo(stmt.name, unit, bases, stmt)
                    classes.setdefault(stmt.name, []).append(info)
                    visit(stmt.body, f"{prefix}{stmt.name}.", info, parent)
                else:
                    for child in _nested_blocks(stmt):
                        visit(child, prefix, cls, parent)

        visit(unit.tree.body, "", None, None)
    return Program(list(sub.units), functions, classes, by_name, methods, aliases, module_body)


def _nested_blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """Statement lists nested in if/try/with/for blocks, where definitions may also live."""
    blocks: list[list[ast.stmt]] = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            blocks.append(value)
    for handler in getattr(stmt, "handlers", []) or []:
        blocks.append(handler.body)
    return blocks


def class_statements(cls: ast.ClassDef):
    """Assignments of a class body, including those inside if/else, try and with blocks."""
    stack = list(reversed(cls.body))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            yield stmt
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for block in reversed(_nested_blocks(stmt)):
                stack.extend(reversed(block))


def _decorator_is_no_grad(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in _NO_GRAD


def local_functions(program: Program, fn: Function) -> dict[str, Function]:
    """Functions defined inside `fn` (and its enclosing functions), visible to its calls by name."""
    children = getattr(program, "_children", None)
    if children is None:
        children = {}
        for f in program.functions:
            if f.parent is not None and f.cls is None:
                children.setdefault(id(f.parent), []).append(f)
        program._children = children  # type: ignore[attr-defined]
    visible: dict[str, Function] = {}
    cur: Function | None = fn
    while cur is not None:
        for f in children.get(id(cur), []):
            visible.setdefault(f.name, f)
        cur = cur.parent
    return visible

