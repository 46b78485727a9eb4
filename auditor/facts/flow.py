"""Data flow and events of every function, computed once per submission.

Each function body is walked until the whole program reaches a fixpoint. A walk computes the labels
of every variable, the return summary of the function (with parameter labels left symbolic, so a
helper shared by training and evaluation is judged per call site) and attribute stores, and turns
the body into a tree of items in program order — events (backward, optimizer step, score
accumulation, table write, Gram accumulation, file read, model use, network call, oracle minimum),
calls to inline, loops and guarded branches — which `trace.py` flattens into one ordered trace of
what the submission does.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Union

from ..syntax import children, walk
from ..unwrap import runs_code
from . import labels as L
from .dispatch import StaticCalls
from .labels import substitute
from .program import MODULE_BODY, Function, Program, class_statements, local_functions
from .values import Evaluator

Labels = frozenset
EMPTY: frozenset[str] = frozenset()


@dataclass(eq=False)
class Event:
    kind: str  # BACKWARD STEP SCORE TWRITE GRAM HOOK READ USE NET ORACLE
    fn: Function
    node: ast.AST
    labels: frozenset[str]
    info: dict = field(default_factory=dict)
    no_grad: bool = False

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", 0)


@dataclass(eq=False)
class CallItem:
    node: ast.AST
    callees: list[Function]
    mapping: dict[str, frozenset[str]]
    no_grad: bool = False


@dataclass(eq=False)
class LoopItem:
    node: ast.AST
    fn: Function
    kind: str  # "data" (iterates over validation/training data), "repeat" (epochs, steps), "while" (until a condition)
    iter_labels: frozenset[str]
    items: list["Item"]
    walked: frozenset[str] = frozenset()  # labels of sequences the loop variable indexes


@dataclass(eq=False)
class BranchItem:
    node: ast.AST
    fn: Function
    truth: bool | None
    test: ast.AST | None  # the condition (None for match cases)
    body: list["Item"]
    orelse: list["Item"]
    negated: bool = False  # the guard is `not test` (the rest of a block after `if test: return`)

    @property
    def cond(self) -> str:
        text = _text(self.test) if self.test is not None else "match case"
        return f"not ({text})" if self.negated else text


Item = Union[Event, CallItem, LoopItem, BranchItem]

_NO_GRAD_CTX = {"no_grad", "inference_mode"}
_SIZE_FUNCS = {"len", "numel", "size", "nelement", "dim"}
_LOOP_DATA = {L.VAL, L.TRAIN, L.VALN}


def _loop_data(labels: frozenset[str]) -> bool:
    return bool(labels & _LOOP_DATA) or any(x.startswith(L.SIZE) for x in labels)
_BYTE_SEQUENCE_OPS = {"encode", "lstrip", "rstrip", "strip", "replace", "removeprefix", "join", "tobytes", "frombuffer", "list",
                      "bytes", "bytearray", "array", "tensor", "as_tensor", "from_numpy", "concatenate", "cat", "repeat",
                      "append", "extend", "get", "to", "numpy", "tolist", "astype", "iter", "reversed", "enumerate", "zip"}
_EXITS = (ast.Return, ast.Continue, ast.Break, ast.Raise)


class Flow:
    """Labels and item trees for every function of a program."""

    def __init__(self, program: Program, evaluator: Evaluator, prune: bool = False):
        self.program = program
        self.ev = evaluator
        self.prune = prune  # follow only branches the environment can take (the "live" view)
        self.vars: dict[int, dict[str, set[str]]] = {id(f): {} for f in program.functions}
        self.returns: dict[int, frozenset[str]] = {id(f): EMPTY for f in program.functions}
        self.attr_stores: dict[int, dict[str, frozenset[str]]] = {id(f): {} for f in program.functions}
        self.attrs: dict[str, set[str]] = {}  # attribute name -> labels stored under it anywhere
        # Shared state a function reads ("attr:<name>", "table:<name>", "forward_loss"), and when each last changed: a
        # function is walked again only when something it read changed.
        self.key_reads: dict[int, set[str]] = {id(f): set() for f in program.functions}
        self.key_changed_at: dict[str, int] = {}
        self.targets: dict[int, set[str]] = {id(f): set() for f in program.functions}
        self.bwd_vars: dict[int, set[str]] = {id(f): set() for f in program.functions}
        self.data_loops: set[int] = set()
        self.walked: dict[int, set[str]] = {}  # loop id -> labels of sequences its variable indexes (`stream[t]`)
        self.tables: set[str] = set()  # names of count tables written with validation-data keys
        self.pruned: set[int] = set()  # functions where this (live) view skipped a branch
        # While a function is walked for labels: the state it has read so far, and whether any of that
        # changed after it was read (then one more walk is needed; otherwise its own changes are seen).
        self._read: set[tuple] | None = None
        self._stale = False
        shapes = _shapes(program)
        self.returned: dict[int, set[str]] = shapes["returned"]
        self.accumulators: dict[int, set[str]] = shapes["accumulators"]
        self.items: dict[int, list[Item]] = {}
        self.locals_cache: dict[int, dict[str, Function]] = shapes["locals"]
        self.module_classes = {n for n, infos in program.classes.items() if any(program.is_subclass_of(i, ("Module",)) for i in infos)}
        self.optimizer_classes = {n for n, infos in program.classes.items() if any(program.is_subclass_of(i, ("Optimizer",)) for i in infos)}
        self.forward_has_loss = False
        self.version = 0  # bumped on every change; functions are re-walked when their inputs changed since
        self.changed_at: dict[int, int] = {}
        self.deps: dict[int, set[int]] = {id(f): ({id(f.parent)} if f.parent else set()) | {id(program.module_body[id(f.unit)])}
                                          for f in program.functions}
        self.exec_sites = {(u.run_at[0], u.run_at[1]): program.module_body[id(u)] for u in program.units if u.run_at}
        self.unit_index = {id(u): i for i, u in enumerate(program.units)}
        self.declared = shapes["declared"]
        self.by_key = {f.key: f for f in program.functions}
        self.static_calls = StaticCalls(program, evaluator)

    # -- driver ---------------------------------------------------------------------------------
    def run(self, max_rounds: int = 12, seed: "Flow | None" = None) -> None:
        """Walk functions until no label changes, re-walking only those whose inputs changed: their own
        summary, a callee's or an enclosing function's, or shared state they read (an attribute, a table,
        whether forward returns a loss).

        `seed`: a fixpoint of a view that follows fewer branches; its labels are a subset of this
        view's, so starting from them only adds what the extra branches contribute. A function where the
        seed view skipped no branch walks the same way in both views: it is walked again only when its
        inputs change, and when they never do, its items are the seed's. Every walk also builds the
        function's items, so those of its last walk hold once nothing it read changes any more."""
        for f in self.program.functions:
            for p in f.params:
                self.vars[id(f)][p] = {L.PARAM + p}
        walked_at: dict[int, int] = {}
        if seed is not None:
            self._start_from(seed)
            walked_at = {id(f): self.version for f in self.program.functions if id(f) not in seed.pruned}
            self.items = {key: seed.items[key] for key in walked_at}
        for _ in range(max_rounds):
            walked_any = False
            for f in self.program.functions:
                if self._current(f, walked_at):
                    continue
                walked_any = True
                before = self.version
                self._read, self._stale = set(), False
                self.items[id(f)] = _Walker(self, f).run()
                walked_at[id(f)] = before if self._stale else self.version
                self._read = None
            has_loss = any(L.LOSS in self.returns[id(f)] for f in self.program.functions
                           if f.name in ("forward", "__call__") and f.cls in self.module_classes)
            if has_loss != self.forward_has_loss:
                self.forward_has_loss = has_loss
                self._key_change("forward_loss")
            if not walked_any:
                break
        for f in self.program.functions:  # out of rounds: the items of what is not current are redone once
            if not self._current(f, walked_at):
                self.items[id(f)] = _Walker(self, f).run()

    def _current(self, f: Function, walked_at: dict[int, int]) -> bool:
        """Whether `f` was walked since the last change of anything it reads (so its labels and items hold)."""
        seen = walked_at.get(id(f))
        return seen is not None and not any(
            self.changed_at.get(d, 0) > seen for d in self.deps[id(f)] | {id(f)}) and not any(
            self.key_changed_at.get(k, 0) > seen for k in self.key_reads[id(f)])

    def _start_from(self, seed: Flow) -> None:
        """Copy a seed view's fixpoint: every set a walk adds to (all grow monotonically)."""
        for f in self.program.functions:
            key = id(f)
            for name, labels in seed.vars[key].items():
                self.vars[key].setdefault(name, set()).update(labels)
            self.returns[key] = seed.returns[key]
            self.attr_stores[key] = dict(seed.attr_stores[key])
            self.targets[key] = set(seed.targets[key])
            self.bwd_vars[key] = set(seed.bwd_vars[key])
            self.deps[key] = set(seed.deps[key])
            self.key_reads[key] = set(seed.key_reads[key])
        self.attrs = {k: set(v) for k, v in seed.attrs.items()}
        self.tables = set(seed.tables)
        self.data_loops = set(seed.data_loops)
        self.walked = {k: set(v) for k, v in seed.walked.items()}
        self.forward_has_loss = seed.forward_has_loss

    # -- state updates --------------------------------------------------------------------------
    def _note(self, key: tuple) -> None:
        if self._read is not None:
            self._read.add(key)

    def _touch(self, key: tuple) -> None:
        if self._read is not None and key in self._read:
            self._stale = True

    def _fn_change(self, fn: Function) -> None:
        self.version += 1
        self.changed_at[id(fn)] = self.version

    def add_var(self, fn: Function, name: str, labels: frozenset[str]) -> None:
        current = self.vars[id(fn)].setdefault(name, set())
        if not labels <= current:
            current |= labels
            self._touch(("var", id(fn), name))
            self._fn_change(fn)

    def add_attr(self, name: str, labels: frozenset[str]) -> None:
        labels = L.concrete(labels)
        current = self.attrs.setdefault(name, set())
        if not labels <= current:
            current |= labels
            self._key_change("attr:" + name)

    def _read_shared(self, fn: Function, key: str) -> None:
        """`fn` read shared state `key`: walk it again when that changes (in this walk or a later one)."""
        self.key_reads[id(fn)].add(key)
        self._note((key,))

    def read_attr(self, fn: Function, name: str) -> frozenset[str]:
        """Labels stored under attribute `name`; `fn` is walked again when they change."""
        self._read_shared(fn, "attr:" + name)
        return frozenset(self.attrs.get(name, ()))

    def is_table(self, fn: Function, name: str | None) -> bool:
        """Whether `name` is a count table written with validation-data keys (so far); `fn` is walked
        again when it becomes one."""
        if name is None:
            return False
        self._read_shared(fn, "table:" + name)
        return name in self.tables

    def model_returns_loss(self, fn: Function) -> bool:
        """Whether a module's forward returns a loss (so `model(x, y)` is one); `fn` is walked again when
        that changes."""
        self._read_shared(fn, "forward_loss")
        return self.forward_has_loss

    def _key_change(self, key: str) -> None:
        self._touch((key,))
        self.version += 1
        self.key_changed_at[key] = self.version

    def add_return(self, fn: Function, labels: frozenset[str]) -> None:
        if not labels <= self.returns[id(fn)]:
            self.returns[id(fn)] = self.returns[id(fn)] | labels
            self._touch(("summary", id(fn)))
            self._fn_change(fn)

    def add_attr_store(self, fn: Function, name: str, labels: frozenset[str]) -> None:
        stores = self.attr_stores[id(fn)]
        if not labels <= stores.get(name, EMPTY):
            stores[name] = stores.get(name, EMPTY) | labels
            self._touch(("summary", id(fn)))
            self._touch(("store", id(fn), name))
            self._fn_change(fn)

    def add_table(self, name: str | None) -> None:
        if name and name not in self.tables:
            self.tables.add(name)
            self._key_change("table:" + name)

    def add_target(self, fn: Function, name: str) -> None:
        if name not in self.targets[id(fn)]:
            self.targets[id(fn)].add(name)
            self._touch(("target", id(fn), name))
            self._fn_change(fn)

    def depends(self, fn: Function, other: Function) -> None:
        """Record that `fn`'s labels read `other`'s summary (a callee) or variables (an enclosing function)."""
        self.deps[id(fn)].add(id(other))

    def function_values(self, labels: frozenset[str]) -> list[Function]:
        """The nested functions a value may be (its FN labels), in program order."""
        keys = {x[len(L.FUNC):] for x in labels if x.startswith(L.FUNC)}
        return [self.by_key[k] for k in sorted(keys) if k in self.by_key]

    def lookup(self, fn: Function, name: str) -> frozenset[str]:
        cur: Function | None = fn
        while cur is not None:
            self._note(("var", id(cur), name))
            found = self.vars[id(cur)].get(name)
            if found is not None:
                self._note(("target", id(cur), name))
                out = frozenset(found)
                return out | {L.TGT} if name in self.targets[id(cur)] else out
            cur = cur.parent
        body = self.program.module_body[id(fn.unit)]
        self._note(("var", id(body), name))
        return frozenset(self.vars[id(body)].get(name, ()))

    def summary(self, callee: Function) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        """What a call of `callee` gives back: its return labels and the attributes it stores."""
        self._note(("summary", id(callee)))
        return self.returns[id(callee)], self.attr_stores[id(callee)]

    def own_store(self, fn: Function, name: str) -> frozenset[str]:
        """Labels `fn` stored under attribute `name` (parameters included)."""
        self._note(("store", id(fn), name))
        return self.attr_stores[id(fn)].get(name, EMPTY)

    def add_backward_var(self, fn: Function, name: str) -> None:
        if name not in self.bwd_vars[id(fn)]:
            self.bwd_vars[id(fn)].add(name)
            self._touch(("bwd", id(fn)))

    def backward_vars(self, fn: Function) -> set[str]:
        """Variables `fn` calls `.backward()` on."""
        self._note(("bwd", id(fn)))
        return self.bwd_vars[id(fn)]


class _Walker:
    """One pass over one function body."""

    def __init__(self, flow: Flow, fn: Function):
        self.flow = flow
        self.fn = fn
        self.program = flow.program
        self.no_grad = fn.no_grad
        self.pending: list[Item] = []  # items produced while labelling the current statement
        self.locals = flow.locals_cache[id(fn)]

    def run(self) -> list[Item]:
        return self.block(self.fn.body)

    # -- statements -----------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> list[Item]:
        items: list[Item] = []
        for i, stmt in enumerate(stmts):
            if isinstance(stmt, ast.If) and not stmt.orelse and stmt.body and isinstance(stmt.body[-1], _EXITS):
                # `if not enabled: return` guards the rest of the block
                items.extend(self.statement(stmt))
                truth = self._truth(stmt.test)
                if self.flow.prune and truth is not None:
                    self.flow.pruned.add(id(self.fn))
                    return items if truth else items + self.block(stmts[i + 1:])
                rest = self.block(stmts[i + 1:])
                items.append(BranchItem(stmt, self.fn, None if truth is None else not truth, stmt.test, rest, [], negated=True))
                return items
            items.extend(self.statement(stmt))
        return items

    def statement(self, stmt: ast.stmt) -> list[Item]:
        if isinstance(stmt, ast.ClassDef):
            self.class_body(stmt)
            return []
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return []
        if isinstance(stmt, ast.If):
            self.label(stmt.test)
            self.oracle_compare(stmt)
            head = self.take()
            truth = self._truth(stmt.test)
            if self.flow.prune and truth is not None:
                self.flow.pruned.add(id(self.fn))
                return head + self.block(stmt.body if truth else stmt.orelse)
            return head + [BranchItem(stmt, self.fn, truth, stmt.test, self.block(stmt.body), self.block(stmt.orelse))]
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            iter_labels = self.label(stmt.iter)
            loop_label = frozenset({f"{L.LOOP}{id(stmt)}"})
            self.bind(stmt.target, iter_labels | loop_label)
            head = self.take()
            body = self.block(stmt.body) + self.block(stmt.orelse)
            kind = "data" if (_loop_data(iter_labels) or id(stmt) in self.flow.data_loops) else "repeat"
            return head + [LoopItem(stmt, self.fn, kind, iter_labels, body, frozenset(self.flow.walked.get(id(stmt), ())))]
        if isinstance(stmt, ast.While):
            test_labels = self.label(stmt.test)
            head = self.take()
            kind = "data" if _loop_data(test_labels) else "while"  # runs until a condition: progress, not passes
            return head + [LoopItem(stmt, self.fn, kind, test_labels, self.block(stmt.body) + self.block(stmt.orelse))]
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            saved = self.no_grad
            for item in stmt.items:
                labels = self.label(item.context_expr)
                if _call_name(item.context_expr) in _NO_GRAD_CTX:
                    self.no_grad = True
                elif _call_name(item.context_expr) == "enable_grad":
                    self.no_grad = False
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, labels)
            head = self.take()
            body = self.block(stmt.body)
            self.no_grad = saved
            return head + body
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            out = self.block(stmt.body)
            for handler in stmt.handlers:
                out += self.block(handler.body)
            return out + self.block(stmt.orelse) + self.block(stmt.finalbody)
        if isinstance(stmt, ast.Match):
            self.label(stmt.subject)
            out = self.take()
            for case in stmt.cases:
                out.append(BranchItem(case, self.fn, None, None, self.block(case.body), []))
            return out
        self.simple(stmt)
        return self.take()

    def class_body(self, cls: ast.ClassDef) -> None:
        """Class-level assignments (config classes): they become attribute labels."""
        for stmt in class_statements(cls):
            value = stmt.value
            if value is None:
                continue
            labels = self.label(value)
            for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
                if isinstance(target, ast.Name):
                    self.flow.add_var(self.fn, target.id, labels)
                    self.flow.add_attr(target.id, labels)
        self.pending = []

    def simple(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            value = self.label(stmt.value)
            for target in stmt.targets:
                if L.GRAD in value and isinstance(target, ast.Name) and L.FRESH in self.flow.lookup(self.fn, target.id):
                    self.pending.append(Event("STEP", self.fn, stmt, self.flow.lookup(self.fn, target.id) | {L.OPT}, {"receiver_text": target.id, "manual": True}, self.no_grad))
                self.bind(target, value)
                if isinstance(target, ast.Subscript) and _refers_to(stmt.value, target.value):
                    keys = self.label(target.slice)
                    if L.VAL in keys or _param_like(keys):
                        self.flow.add_table(_table_name(target.value))
                self.accumulation(stmt, target, value, stmt.value)
                if (_refers_to(stmt.value, target) or any(
                        isinstance(n, ast.Call) and _call_name(n) == "get" for n in walk(stmt.value))):
                    self.gram(stmt, stmt.value)
            self.table_write(stmt, stmt.targets, stmt.value, augmented=False)
        elif isinstance(stmt, ast.AugAssign):
            value = self.label(stmt.value)
            target_labels = self.label(stmt.target, store=True)
            self.bind(stmt.target, value | target_labels)
            if isinstance(stmt.target, ast.Subscript):
                keys = self.label(stmt.target.slice)
                if keys & {L.VAL} or _param_like(keys):
                    self.flow.add_table(_table_name(stmt.target.value))
            if L.GRAD in value:
                self.pending.append(Event("STEP", self.fn, stmt, target_labels | {L.OPT}, {"receiver_text": _text(stmt.target), "manual": True}, self.no_grad))
            if isinstance(stmt.op, (ast.Add, ast.Sub)):
                self.accumulation(stmt, stmt.target, value, stmt.value, augmented=True)
                self.table_write(stmt, [stmt.target], stmt.value, augmented=True)
            self.gram(stmt, stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, self.label(stmt.value))
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            value = self.label(stmt.value)
            self.flow.add_return(self.fn, value)
            if L.LOSS in value and _contains_reduction(stmt.value) and not (
                    {n.id for n in walk(stmt.value) if isinstance(n, ast.Name)} & self.flow.accumulators[id(self.fn)]):
                self.score_event(stmt, ast.Name(id="<return>", ctx=ast.Load()), value, stmt.value)
        elif isinstance(stmt, ast.Expr):
            value = self.label(stmt.value)
            if isinstance(stmt.value, (ast.Yield, ast.YieldFrom)):
                self.flow.add_return(self.fn, value)
        elif isinstance(stmt, (ast.Nonlocal, ast.Global)):
            pass
        else:
            for child in children(stmt):
                if isinstance(child, ast.expr):
                    self.label(child)

    def take(self) -> list[Item]:
        out, self.pending = self.pending, []
        return out

    def _truth(self, test: ast.expr) -> bool | None:
        if _is_main_guard(test):
            return self.fn.unit.role in ("main", "decoded")
        return self.flow.ev.truth(test, self.fn)

    # -- binding --------------------------------------------------------------------------------
    def bind(self, target: ast.expr, labels: frozenset[str]) -> None:
        if isinstance(target, ast.Name):
            self.flow.add_var(self._owner(target.id), target.id, labels)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind(elt, labels)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, labels)
        elif isinstance(target, ast.Attribute):
            on_self = isinstance(target.value, ast.Name) and target.value.id == "self"
            if any(L.is_param(x) for x in labels) and not on_self:
                self.flow.add_attr_store(self.fn, target.attr, labels)
            # `self.x = f(param)` belongs to the instance: the instance carries its constructor's data labels
            self.flow.add_attr(target.attr, labels)
        elif isinstance(target, ast.Subscript):
            base = _base_name(target)
            index_labels = self.label(target.slice)
            if base:
                self.flow.add_var(self._owner(base), base, labels | L.concrete(index_labels) - {L.TGT})
            elif isinstance(target.value, ast.Attribute):
                self.flow.add_attr(target.value.attr, labels)

    def _owner(self, name: str) -> Function:
        """The function whose variable `name` is (nonlocal/global declarations respected)."""
        nonlocals, globals_ = self.flow.declared[id(self.fn)]
        if name in nonlocals and self.fn.parent is not None:
            return self.fn.parent
        if name in globals_:
            return self.program.module_body[id(self.fn.unit)]
        return self.fn

    # -- expressions ----------------------------------------------------------------------------
    def label(self, node: ast.AST | None, store: bool = False) -> frozenset[str]:
        if node is None:
            return EMPTY
        if isinstance(node, ast.Constant):
            return L.string_labels(node.value) if isinstance(node.value, str) else EMPTY
        if isinstance(node, ast.Name):
            return self.flow.lookup(self.fn, node.id) | self.function_value(node.id)
        if isinstance(node, ast.Attribute):
            base = self.label(node.value)
            out = base | self.flow.read_attr(self.fn, node.attr) | self.flow.own_store(self.fn, node.attr)
            if node.attr == "grad":
                out |= {L.GRAD}
            if node.attr in ("shape", "ndim"):
                out = L.size_of(out)
            return out - {L.OPT} if node.attr in ("param_groups", "state") else out
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for gen in node.generators:
                self.bind(gen.target, self.label(gen.iter))
                for cond in gen.ifs:
                    self.label(cond)
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return frozenset().union(*(self.label(p) for p in parts)) | frozenset().union(*(self.label(g.iter) for g in node.generators))
        if isinstance(node, ast.Lambda):
            return self.label(node.body)
        if isinstance(node, ast.IfExp):
            test = self.label(node.test)
            truth = self._truth(node.test)
            if self.flow.prune and truth is not None:
                self.flow.pruned.add(id(self.fn))
                return test | self.label(node.body if truth else node.orelse)
            saved, self.pending = self.pending, []
            body = self.label(node.body)
            body_items, self.pending = self.pending, []
            orelse = self.label(node.orelse)
            else_items = self.pending
            self.pending = saved
            if body_items or else_items:
                self.pending.append(BranchItem(node, self.fn, truth, node.test, body_items, else_items))
            return test | body | orelse
        if isinstance(node, ast.NamedExpr):
            value = self.label(node.value)
            self.bind(node.target, value)
            return value
        out: set[str] = set()
        for child in children(node):
            if isinstance(child, (ast.expr, ast.comprehension, ast.keyword)):
                out |= self.label(child.value if isinstance(child, ast.keyword) else child)
        if isinstance(node, ast.Compare):
            return frozenset(x for x in out if not x.startswith(L.TBL) and x != L.BYTES) | ({L.TBLIDX} if any(x.startswith(L.TBL) for x in out) else EMPTY)
        return frozenset(out)

    def subscript(self, node: ast.Subscript) -> frozenset[str]:
        value = self.label(node.value)
        index = self.label(node.slice)
        loops = {x for x in index if x.startswith(L.LOOP)}
        if loops and (value & _LOOP_DATA or any(L.is_param(x) for x in value)):
            for loop in loops:
                self.flow.data_loops.add(int(loop[len(L.LOOP):]))  # read when items are emitted, not by labels
        walked = {x for x in value if x == L.BYTES or L.is_param(x)}
        for loop in loops:
            self.flow.walked.setdefault(int(loop[len(L.LOOP):]), set()).update(walked)
        out = value | index
        if value & {L.NORM, L.MODEL, L.LOSS}:
            last = node.slice.elts[-1] if isinstance(node.slice, ast.Tuple) and node.slice.elts else node.slice
            if self.label(last) & {L.VAL} or any(L.is_param(x) for x in self.label(last)):
                for name in _names(last):
                    self.flow.add_target(self.fn, name)
            return _as_selector(value, index) - {L.TGT}
        table = _table_name(node.value)
        is_table = self.flow.is_table(self.fn, table)
        if is_table:
            out = out | {L.TBL + table}
        if L.BYTES in value and L.TGT in index:
            out = out | {L.BYTES}
        if is_table:
            out = out | _target_reads(index, f"{self.fn.unit.file}:{_line_of(self.fn, node)}")
        return out

    def call(self, node: ast.Call) -> frozenset[str]:
        env = self.flow.ev.env_read(node)
        if env is not None:  # `os.environ.get("VAL_FILES", default)`: the given value's labels, and the default's
            key, default = env
            given = self.flow.ev.env.get(key)
            return (L.string_labels(given) if given else EMPTY) | (self.label(default) if default is not None else EMPTY)
        node = self.flow.static_calls.plain(node, self.fn)  # `getattr(opt, "step")()` reads as `opt.step()`
        func = node.func
        receiver = self.label(func.value) if isinstance(func, ast.Attribute) else EMPTY
        arg_labels = [self.label(a.value if isinstance(a, ast.Starred) else a) for a in node.args]
        kw_labels = {k.arg: self.label(k.value) for k in node.keywords}
        all_args = frozenset().union(*arg_labels, *kw_labels.values()) if (arg_labels or kw_labels) else EMPTY
        name = _call_name(node)
        qual = self.program.qualified(func, self.fn) or name
        callees, kind = self.resolve(node, name)
        held: frozenset[str] | None = None  # labels of the function value called (None: a call by name)
        if kind in ("instance", "external"):  # a variable, slot or container holding a nested function: call it
            value = self.called_value(func)
            closures = self.flow.function_values(value)
            if closures:
                callees, kind, held = closures, "func", value
        if kind in ("instance", "external") and isinstance(func, ast.Name):
            alias = self._function_alias(func.id)  # `log_ = math.log; log_(p)`
            if alias:
                qual, name, kind = alias, alias.rsplit(".", 1)[-1], "external"
        self.callbacks(node)
        if (name in ("exec", "eval", "run_path") or runs_code(node, self.fn.unit.tree)) and kind == "external":
            body = self.flow.exec_sites.get((self.flow.unit_index[id(self.fn.unit)], node.lineno))
            if body is not None:  # a dict namespace binds the code's names to values here
                scope = {name: self.label(expr) for name, expr in body.unit.namespace or ()}
                self.pending.append(CallItem(node, [body], scope, self.no_grad))

        if kind in ("func", "method"):
            out = self.program_call(node, callees, arg_labels, kw_labels, receiver, method=(kind == "method"), held=held)
            self.emit_events(node, name, qual, receiver, arg_labels, all_args, out)
            return out
        if kind == "ctor":
            init = [c for c in callees if c.name == "__init__"]
            self.program_call(node, init, arg_labels, kw_labels, EMPTY, method=True)
            cls = _call_name(node)
            out = frozenset(x for x in all_args if x in L.DATA or x.startswith(L.FILE) or L.is_param(x))
            if self.fn.name != MODULE_BODY:
                out = out | {L.LOCAL}  # an object this function creates (an adapter, a copy)
            if cls in self.flow.optimizer_classes or cls.endswith(("Optimizer", "Muon")):
                out = frozenset(x for x in all_args if x in (L.FRESH, L.LOCAL) or L.is_param(x)) | {L.OPT}
            return out
        out = self.external(node, name, qual, receiver, arg_labels, kw_labels, all_args, kind)
        self.emit_events(node, name, qual, receiver, arg_labels, all_args, out)
        return out

    def resolve(self, node: ast.Call, name: str) -> tuple[list[Function], str]:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in self.locals:
                return [self.locals[func.id]], "func"
            if func.id in self.program.classes:
                inits = self.program.method_of(func.id, "__init__")
                return inits, "ctor"
            alias = self.program.aliases_of(self.fn).get(func.id)
            short = alias.split(".")[-1] if alias else func.id
            if short in self.program.by_name and (alias is None or self._is_local_module(alias.rsplit(".", 1)[0])):
                return self.program.by_name[short], "func"
            if short in self.program.classes and alias and self._is_local_module(alias.rsplit(".", 1)[0]):
                return self.program.method_of(short, "__init__"), "ctor"
            if self.flow.lookup(self.fn, func.id) or func.id in self.fn.params:
                return [], "instance"  # model calls are summarized (MODEL, LOSS), not inlined
            return [], "external"
        if isinstance(func, ast.Attribute):
            root = func.value
            if isinstance(root, ast.Name) and root.id in self.program.aliases_of(self.fn):
                module = self.program.aliases_of(self.fn)[root.id]
                if self._is_local_module(module):
                    if func.attr in self.program.classes:
                        return self.program.method_of(func.attr, "__init__"), "ctor"
                    return [f for f in self.program.by_name.get(func.attr, []) if f.unit.module == module], "func"
                return [], "external"
            if func.attr in ("step", "zero_grad", "backward") or func.attr.startswith("__"):
                return [], "external"
            if isinstance(root, ast.Name) and root.id == "self" and self.fn.cls:
                own = self.program.method_of(self.fn.cls, func.attr)
                if own:
                    return own, "method"
                if self.fn.cls in self.flow.module_classes:
                    return [], "instance"  # self.proj(x): calling a submodule
            found = self.program.methods.get(func.attr, [])
            if found:
                return found, "method"
        return [], "external"

    def _function_alias(self, name: str) -> str | None:
        """The dotted name a local variable aliases when it is bound once to a module attribute."""
        for owner in (self.fn, self.program.module_body[id(self.fn.unit)]):
            values = self.flow.ev.locals.get((id(owner), name))
            if values:
                if len(values) == 1 and isinstance(values[0], ast.Attribute):
                    dotted = self.program.qualified(values[0], owner)
                    root = dotted.split(".")[0] if dotted else ""
                    if dotted and root in set(self.program.aliases_of(owner).values()):
                        return dotted
                return None
        return None

    def _is_local_module(self, module: str) -> bool:
        return any(u.module == module for u in self.program.units)

    def program_call(self, node: ast.Call, callees: list[Function], arg_labels: list[frozenset[str]],
                     kw_labels: dict[str | None, frozenset[str]], receiver: frozenset[str], method: bool,
                     held: frozenset[str] | None = None) -> frozenset[str]:
        """Inline summaries of `callees`; `held`: the labels of the function value called (None: called by name)."""
        out: set[str] = set()
        for callee in callees:
            self.flow.depends(self.fn, callee)
            mapping = {**self.captured(callee, held), **self.bind_args(callee, arg_labels, kw_labels, receiver, method)}
            returns, stores = self.flow.summary(callee)
            out |= substitute(returns, mapping)
            if callee.cls in self.flow.module_classes and callee.name != "__init__":
                out.add(L.MODEL)
            for attr, stored in list(stores.items()):
                resolved = substitute(stored, mapping)
                self.flow.add_attr(attr, resolved)
                if any(L.is_param(x) for x in resolved):
                    self.flow.add_attr_store(self.fn, attr, resolved)
            self.pending.append(CallItem(node, [callee], mapping, self.no_grad))
        return frozenset(out)

    def called_value(self, func: ast.expr) -> frozenset[str]:
        """Labels of what a call calls when it is not a program name: a variable (`window(i)`), an attribute
        slot (`self.window(i)`: what was stored under that name) or a container element (`fns["w"](i)`)."""
        if isinstance(func, ast.Name):
            return self.flow.lookup(self.fn, func.id)
        if isinstance(func, ast.Attribute):
            return self.flow.read_attr(self.fn, func.attr)
        if isinstance(func, ast.Subscript):
            return self.label(func.value)
        return EMPTY

    def function_value(self, name: str) -> frozenset[str]:
        """A nested function named as a value (`return window`, `fns = {"w": window}`): its FN label, and
        what the enclosing names it reads hold here, so a call of the value elsewhere sees both."""
        fn = self.locals.get(name)
        if fn is None:
            return EMPTY
        out = {L.FUNC + fn.key}
        for captured, labels in self.closure_env(fn).items():
            out |= L.capture(fn.key, captured, labels)
        return frozenset(out)

    def closure_env(self, fn: Function) -> dict[str, frozenset[str]]:
        """The enclosing functions' parameters a nested function may read, with what they hold in its scope.
        Its return summary keeps them symbolic (`P:h`), as it does its own parameters."""
        self.flow.depends(self.fn, fn.parent)
        env: dict[str, frozenset[str]] = {}
        scope = fn.parent
        while scope is not None:
            for p in scope.params:
                if p not in fn.params and p not in env:
                    env[p] = self.flow.lookup(fn.parent, p)
            scope = scope.parent
        return env

    def captured(self, callee: Function, held: frozenset[str] | None) -> dict[str, frozenset[str]]:
        """Bindings of the enclosing names a nested function reads: carried by the function value called
        (`held`), or, for a call by name within its defining scope, read from that scope."""
        if callee.parent is None or callee.cls is not None:  # a method's enclosing scope is not modelled
            return {}
        if held is None:
            return self.closure_env(callee)
        env: dict[str, set[str]] = {}
        for x in held:
            if x.startswith(L.CAPTURE):
                key, name, label = L.split_capture(x)
                if key == callee.key:
                    env.setdefault(name, set()).add(label)
        return {name: frozenset(labels) for name, labels in env.items()}

    def bind_args(self, callee: Function, arg_labels: list[frozenset[str]], kw_labels: dict[str | None, frozenset[str]],
                  receiver: frozenset[str], method: bool) -> dict[str, frozenset[str]]:
        params = list(callee.params)
        mapping: dict[str, frozenset[str]] = {}
        if method and params and params[0] in ("self", "cls"):
            mapping[params[0]] = receiver
            params = params[1:]
        for p, labels in zip(params, arg_labels):
            mapping[p] = labels
        if len(arg_labels) > len(params) and params:
            mapping[params[-1]] = mapping.get(params[-1], EMPTY).union(*arg_labels[len(params):])
        for k, labels in kw_labels.items():
            if k is None:
                for p in params:
                    mapping[p] = mapping.get(p, EMPTY) | labels
            elif k in callee.params:
                mapping[k] = labels
            elif params:
                mapping[params[-1]] = mapping.get(params[-1], EMPTY) | labels
        return mapping

    def external(self, node: ast.Call, name: str, qual: str, receiver: frozenset[str], arg_labels: list[frozenset[str]],
                 kw_labels: dict[str | None, frozenset[str]], all_args: frozenset[str], kind: str) -> frozenset[str]:
        func = node.func
        base = (receiver | all_args) - {L.OPT, L.FRESH}
        if kind == "instance":
            own = self.label(func) if isinstance(func, ast.Name) and not self.flow.lookup(self.fn, func.id) & {L.MODEL} else EMPTY
            carried = own | all_args
            return frozenset(x for x in carried if x in L.DATA or x == L.TGT or L.is_param(x) or x.startswith(L.TREAD)) | {L.MODEL} | (
                {L.LOSS} if len(node.args) >= 2 and self.flow.model_returns_loss(self.fn) else EMPTY)
        if name in ("cross_entropy", "nll_loss") and len(node.args) >= 2:
            for n in _names(node.args[1]):
                self.flow.add_target(self.fn, n)
        if name in ("cross_entropy", "nll_loss") and "target" in kw_labels:
            for n in _names(next(k.value for k in node.keywords if k.arg == "target")):
                self.flow.add_target(self.fn, n)
        if name == "gather" and isinstance(func, ast.Attribute):
            index = node.args[1] if len(node.args) >= 2 else next((k.value for k in node.keywords if k.arg == "index"), None)
            if index is not None:
                if receiver & {L.NORM, L.MODEL, L.LOSS}:
                    for n in _names(index):
                        self.flow.add_target(self.fn, n)
                    return _as_selector(receiver, self.label(index)) - {L.TGT, L.NORM, L.MODEL}
                if self.flow.is_table(self.fn, _table_name(func.value)):
                    return base | _target_reads(self.label(index), f"{self.fn.unit.file}:{_line_of(self.fn, node)}")
        if name in ("get", "take") and L.TGT in all_args and not (receiver & {L.NORM, L.MODEL}) and \
                self.flow.is_table(self.fn, _table_name(func.value if isinstance(func, ast.Attribute) and name == "get"
                                                        else (node.args[0] if node.args else func))):
            return base | {f"{L.TREAD}{self.fn.unit.file}:{_line_of(self.fn, node)}"}
        if name in L.NORM_FUNCS:
            normed = {L.NORMED + x[len(L.TBL):] for x in base if x.startswith(L.TBL)}
            return (base - {L.MODEL}) | {L.NORM} | normed | ({L.LOSS} if name == "log_softmax" else EMPTY)
        if name == "grad" and qual.endswith("autograd.grad"):
            return base | {L.GRAD}
        if name in L.LOSS_FUNCS:
            return (base - {L.MODEL, L.NORM}) | {L.LOSS}
        if qual.startswith("torch.optim.") and name[:1].isupper() and "lr_scheduler" not in qual:
            return frozenset(x for x in all_args if x in (L.FRESH, L.LOCAL) or L.is_param(x)) | {L.OPT}
        if name in self.flow.optimizer_classes:
            return frozenset(x for x in all_args if x in (L.FRESH, L.LOCAL) or L.is_param(x)) | {L.OPT}
        if name in L.TENSOR_CREATORS and _kw_true(node, "requires_grad"):
            return base | {L.FRESH}
        if name == "Parameter" and self.fn.name != "__init__":
            return base | {L.FRESH}
        if name in ("parameters", "named_parameters", "state_dict") and isinstance(func, ast.Attribute):
            return base | {L.PARAMS}
        if name == "requires_grad_" and isinstance(func, ast.Attribute):
            if L.PARAMS in receiver:
                return receiver  # (un)freezing existing parameters
            if isinstance(func.value, ast.Name):
                self.flow.add_var(self.fn, func.value.id, frozenset({L.FRESH}))
            return receiver | {L.FRESH}
        if name == "deepcopy":
            return (all_args - {L.OPT}) | {L.LOCAL}
        if name in ("id_to_piece", "IdToPiece", "decode_ids", "DecodeIds", "id_to_bytes"):
            return base | {L.BYTES}
        if name in _SIZE_FUNCS:
            return L.size_of(base)
        if L.BYTES in base and name not in _BYTE_SEQUENCE_OPS:
            base = base - {L.BYTES}  # a count, a flag or a number computed from bytes: not the bytes themselves
        if name in L.TABLE_METHODS or qual.endswith("add.at"):
            keys = arg_labels[1] if len(arg_labels) > 1 else all_args
            if keys & {L.VAL} or _param_like(keys):
                self.flow.add_table(_table_name(func.value if isinstance(func, ast.Attribute) and not qual.endswith("add.at") else node.args[0]) if node.args or isinstance(func, ast.Attribute) else None)
        if isinstance(func, ast.Attribute) and name in ("add_", "sub_", "copy_") and any(L.GRAD in a for a in arg_labels):
            self.pending.append(Event("STEP", self.fn, node, receiver | {L.OPT}, {"receiver_text": _text(func.value), "manual": True}, self.no_grad))
        if isinstance(func, ast.Attribute) and name in L.ACCUMULATING_METHODS:
            target = _base_name(func.value) if not isinstance(func.value, ast.Attribute) else None
            if target:
                self.flow.add_var(self.fn, target, all_args - {L.TGT})
            elif isinstance(func.value, ast.Attribute):
                self.flow.add_attr(func.value.attr, all_args)
        if name in L.SAMPLERS:
            return base - set(L.DATA)
        return base

    # -- events ---------------------------------------------------------------------------------
    def emit_events(self, node: ast.Call, name: str, qual: str, receiver: frozenset[str], arg_labels: list[frozenset[str]],
                    all_args: frozenset[str], result: frozenset[str]) -> None:
        func = node.func
        add = lambda kind, labels, **info: self.pending.append(Event(kind, self.fn, node, labels, info, self.no_grad))  # noqa: E731
        if name == "backward" and isinstance(func, ast.Attribute):
            add("BACKWARD", receiver)
            if isinstance(func.value, ast.Name):
                self.flow.add_backward_var(self.fn, func.value.id)
        elif name == "grad" and qual.endswith("autograd.grad") and arg_labels:
            add("BACKWARD", arg_labels[0])
        elif name == "step" and isinstance(func, ast.Attribute):
            add("STEP", receiver, receiver_text=_text(func.value))
        elif name in ("register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook"):
            add("HOOK", all_args)
        elif name in ("addmm_", "addmm", "addmm_out") and len(node.args) >= 2 and _is_transpose_of(node.args[-2], node.args[-1]):
            add("GRAM", all_args)
        elif name in ("minimum", "fmin") or (name in ("min", "amin") and len(node.args) >= 2 and not isinstance(func, ast.Attribute)):
            losses = [a for a in arg_labels if L.LOSS in a]
            if len(losses) >= 2:
                add("ORACLE", frozenset().union(*arg_labels))
        elif name == "where" and len(node.args) == 3 and L.LOSS in arg_labels[1] and L.LOSS in arg_labels[2] and isinstance(node.args[0], ast.Compare):
            add("ORACLE", frozenset().union(*arg_labels))
        if name in L.FILE_READERS and (all_args | receiver) & ({L.VAL, L.TRAIN} | _param_like(all_args | receiver) | _file_like(all_args | receiver)):
            add("READ", all_args | receiver, api=qual)
        if L.MODEL in result and (all_args & {L.VAL, L.TRAIN} or _param_like(all_args)):
            add("USE", all_args)
        if qual in L.NETWORK or name in L.NETWORK or _shell_network(node, qual):
            add("NET", all_args, api=qual)
        if name in L.TABLE_METHODS and isinstance(func, ast.Attribute) or qual in ("numpy.add.at", "np.add.at"):
            keys = arg_labels[1] if len(arg_labels) > 1 else all_args
            if qual.endswith("add.at") and len(arg_labels) > 1:
                keys = arg_labels[1]
            if keys & {L.VAL} or _param_like(keys):
                add("TWRITE", keys, table=_text(func.value if isinstance(func, ast.Attribute) and not qual.endswith("add.at") else node.args[0]))
        if isinstance(func, ast.Attribute) and name in ("add_", "append", "extend", "copy_") and arg_labels:
            value = frozenset().union(*arg_labels)
            self.score_event(node, func.value, value, node.args[0] if node.args else node)

    def accumulation(self, stmt: ast.stmt, target: ast.expr, value: frozenset[str], value_node: ast.expr, augmented: bool = False) -> None:
        """`acc += v`, `acc = acc + v`, `buf[i] = v` with a loss value: a candidate scoring site."""
        if not augmented:
            if isinstance(target, ast.Subscript):
                if L.LOSS not in value:
                    return  # `buf[i] = v` scores only what is already a loss here (not a caller's tensor)
            elif isinstance(target, ast.Name) and target.id in self.flow.returned[id(self.fn)] and _is_reduction(value_node) \
                    and not {n.id for n in walk(value_node) if isinstance(n, ast.Name)} & self.flow.accumulators[id(self.fn)]:
                pass  # `loss = nll.sum()` reported directly (not a ratio of running sums)
            elif not (isinstance(value_node, ast.BinOp) and isinstance(value_node.op, (ast.Add, ast.Sub)) and _refers_to(value_node, target)):
                return
        self.score_event(stmt, target, value, value_node)

    def score_event(self, node: ast.AST, target: ast.expr, value: frozenset[str], value_node: ast.AST) -> None:
        """A candidate: the trace keeps it as a score when, at the call site, it is a loss on validation data.
        Without a loss label here, only sums into a caller's tensor (`def add(nll, sums): sums[0] += nll.sum()`)
        can become one."""
        if L.LOSS in value:
            if not (value & {L.VAL} or _param_like(value)):
                return
        elif not (_param_like(value) and _root(target) in self.fn.params):
            return
        names = {n.id for n in walk(value_node) if isinstance(n, ast.Name)}
        from_bwd = bool(names & self.flow.backward_vars(self.fn))
        returned = _root(target) in self.flow.returned[id(self.fn)] or _root(target) in self.fn.params
        self.pending.append(Event("SCORE", self.fn, node, value, {"acc": _text(target), "from_bwd": from_bwd, "returned": returned}, self.no_grad))

    def callbacks(self, node: ast.Call) -> None:
        """Functions passed as arguments (LBFGS closures, forward hooks, compile targets) run there;
        so do functions a factory argument returns (`register_forward_hook(make_hook(name))`)."""
        for arg in list(node.args) + [k.value for k in node.keywords]:
            target = None
            if isinstance(arg, ast.Name):
                target = self.locals.get(arg.id) or next(iter(self.program.by_name.get(arg.id, [])), None)
            elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name):
                factory = self.locals.get(arg.func.id) or next(iter(self.program.by_name.get(arg.func.id, [])), None)
                target = _returned_closure(self.program, factory) if factory else None
            if target is not None:
                self.pending.append(CallItem(arg, [target], {}, self.no_grad))

    def oracle_compare(self, stmt: ast.If) -> None:
        """Branching on a comparison of two validation losses. Storing the smaller loss into the score
        (`if nll_mix < nll_model: scored[t] = nll_mix`) is an oracle choice (ORACLE); keeping some other
        value (`best_clip = clip`) selects a setting by its validation loss (SELECT)."""
        test = stmt.test
        if not (isinstance(test, ast.Compare) and len(test.comparators) == 1
                and isinstance(test.ops[0], (ast.Lt, ast.LtE, ast.Gt, ast.GtE))):
            return
        a, b = self.label(test.left), self.label(test.comparators[0])
        if not (L.LOSS in a and L.LOSS in b and L.MODEL in a | b):
            return
        stored: list[frozenset[str]] = []
        for n in walk(stmt):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Tuple) \
                    and isinstance(n.value, ast.Tuple) and len(n.value.elts) == len(n.targets[0].elts):
                stored.extend(self.label(v) for v in n.value.elts)
            elif isinstance(n, (ast.Assign, ast.AugAssign)):
                stored.append(self.label(n.value))
        kind = "ORACLE" if stored and all(L.LOSS in v for v in stored) else "SELECT"
        self.pending.append(Event(kind, self.fn, test, a | b, {}, self.no_grad))

    def table_write(self, stmt: ast.stmt, targets: list[ast.expr], value_node: ast.expr, augmented: bool) -> None:
        """`T[k] += 1`, `T[k] = T.get(k, 0) + 1`: a count-table increment keyed by data."""
        for target in targets:
            if not isinstance(target, ast.Subscript):
                continue
            base = _text(target.value)
            keys = self.label(target.slice)
            keyed_by_tokens = L.VAL in keys or (_param_like(keys) and not isinstance(target.slice, ast.Slice))
            if not (augmented or _refers_to(value_node, target.value) or keyed_by_tokens):
                continue  # `T[tok] = n` (keyed by a token) counts; `buf[a:b] = x` (positions) does not
            if keyed_by_tokens:
                self.pending.append(Event("TWRITE", self.fn, stmt, keys, {"table": base}, self.no_grad))

    def gram(self, stmt: ast.stmt, value_node: ast.expr) -> None:
        """`H += X.T @ X` (or matmul/mm/addmm of a matrix with its transpose): Hessian/Gram accumulation."""
        for n in walk(value_node):
            pair = None
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult):
                pair = (n.left, n.right)
            elif isinstance(n, ast.Call) and _call_name(n) in ("matmul", "mm") and len(n.args) == 2:
                pair = (n.args[0], n.args[1])
            if pair and _is_transpose_of(pair[0], pair[1]):
                self.pending.append(Event("GRAM", self.fn, stmt, self.label(value_node), {}, self.no_grad))
                return


# -- small syntax helpers -------------------------------------------------------------------------
def _root(node: ast.AST) -> str:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _returned_closure(program: Program, factory: Function) -> Function | None:
    """The nested function a factory returns (`def make(k): def hook(...): ...; return hook`)."""
    for node in walk(factory.node):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Name):
            for f in program.functions:
                if f.parent is factory and f.name == node.value.id:
                    return f
    return None


def _target_reads(index: frozenset[str], site: str) -> frozenset[str]:
    """A table read keyed by the target (TREAD), or by a parameter that may be the target at a call site."""
    out = {f"{L.TREAD}{site}"} if L.TGT in index else set()
    out |= {f"{L.TREAD_PARAM}{x[len(L.PARAM):]}|{site}" for x in index if L.is_param(x)}
    return frozenset(out)


def _as_selector(distribution: frozenset[str], index: frozenset[str]) -> frozenset[str]:
    """Selecting from a model distribution with a table-derived id (a hint) carries no table mass."""
    hinted = any(x.startswith(L.TBL) for x in index)
    index = frozenset(x for x in index if not x.startswith(L.TBL))
    return distribution | index | ({L.TBLIDX} if hinted else EMPTY)


def _table_name(node: ast.AST) -> str | None:
    """`self.full[n]` -> "full"; `tables[n][k]` -> "tables"; `counts` -> "counts"."""
    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _contains_reduction(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and _call_name(n) in ("sum", "nansum", "fsum") for n in walk(node))


def _is_reduction(node: ast.AST) -> bool:
    name = _call_name(node) if isinstance(node, ast.Call) else ""
    return name in ("sum", "nansum", "fsum") or (isinstance(node, ast.BinOp) and any(_is_reduction(n) for n in (node.left, node.right)))


def _returned_names(fn: Function) -> set[str]:
    """Names that reach a `return` directly or through one assignment (`val_loss = loss_sum / n`)."""
    if isinstance(fn.node, ast.Module):
        return set()
    returned: set[str] = set()
    assigns: list[tuple[str, set[str]]] = []
    for node in walk(fn.node):
        if isinstance(node, ast.Return) and node.value is not None:
            returned |= {n.id for n in walk(node.value) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigns.append((node.targets[0].id, {n.id for n in walk(node.value) if isinstance(n, ast.Name)}))
    for _ in range(2):
        for target, sources in assigns:
            if target in returned:
                returned |= sources
    return returned


def _shapes(program: Program) -> dict[str, dict]:
    """Per-function syntax facts both views share, computed once per program."""
    cached = getattr(program, "_flow_shapes", None)
    if cached is None:
        cached = {
            "returned": {id(f): _returned_names(f) for f in program.functions},
            "accumulators": {id(f): _augmented_names(f) for f in program.functions},
            "locals": {id(f): local_functions(program, f) for f in program.functions},
            "declared": {id(f): _declarations(f) for f in program.functions},
        }
        program._flow_shapes = cached  # type: ignore[attr-defined]
    return cached


def _augmented_names(fn: Function) -> set[str]:
    """Running sums of a function: names that are targets of `+=` / `-=`."""
    if isinstance(fn.node, ast.Module):
        return set()
    return {n.target.id for n in walk(fn.node) if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}


def _declarations(fn: Function) -> tuple[set[str], set[str]]:
    """Names a function declares `nonlocal` and `global` (its own body, not nested definitions)."""
    nonlocals: set[str] = set()
    globals_: set[str] = set()
    if isinstance(fn.node, ast.Module):
        return nonlocals, globals_
    stack = list(fn.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.Nonlocal):
            nonlocals.update(stmt.names)
        elif isinstance(stmt, ast.Global):
            globals_.update(stmt.names)
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stack.extend(c for c in children(stmt) if isinstance(c, ast.stmt))
    return nonlocals, globals_


def _key(node: ast.AST) -> str | None:
    """A cheap identity for a storage location: `x`, `self.h`, `t[...]` (indices ignored)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _key(node.value)
        return f"{inner}.{node.attr}" if inner else None
    if isinstance(node, ast.Subscript):
        inner = _key(node.value)
        return f"{inner}[]" if inner else None
    return None


def _refers_to(expr: ast.AST, location: ast.AST) -> bool:
    """Whether `expr` reads `location` (or an element of it): `acc = acc + x`, `T[k] = T.get(k, 0) + 1`."""
    key = _key(location)
    if key is None:
        return False
    base = key[:-2] if key.endswith("[]") else key
    for n in walk(expr):
        k = _key(n) if isinstance(n, (ast.Name, ast.Attribute, ast.Subscript)) else None
        if k is not None and (k == key or k == base or k.startswith(base + "[")):
            return True
    return False


def _text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:160]
    except Exception:
        return type(node).__name__


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)) and not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"):
        node = node.value
    if isinstance(node, ast.Attribute):
        return None
    return node.id if isinstance(node, ast.Name) else None


def _names(node: ast.AST) -> set[str]:
    """The array an index expression selects with: `y.view(-1, 1)` -> y, `tgt[0, s:, None]` -> tgt.

    Only the root is a target; positions and offsets used to slice it are not.
    """
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, (ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name) and node.value.id == "self"):
            node = node.value
        else:
            break
    return {node.id} if isinstance(node, ast.Name) else set()


def _kw_true(node: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords)


def _param_like(labels: frozenset[str]) -> frozenset[str]:
    return frozenset(x for x in labels if L.is_param(x))


def _file_like(labels: frozenset[str]) -> frozenset[str]:
    return frozenset(x for x in labels if x.startswith(L.FILE))


def _line_of(fn: Function, node: ast.AST) -> int:
    return getattr(node, "lineno", fn.line)


def _is_transpose_of(a: ast.AST, b: ast.AST) -> bool:
    """`x.T` / `x.t()` / `x.transpose(...)` / `x.mT` paired with `x` (either order)."""
    def base_of_t(n: ast.AST) -> str | None:
        if isinstance(n, ast.Attribute) and n.attr in ("T", "mT"):
            return _text(n.value)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("t", "transpose"):
            return _text(n.func.value)
        return None
    return base_of_t(a) == _text(b) or base_of_t(b) == _text(a)


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def _shell_network(node: ast.Call, qual: str) -> bool:
    if not (qual.startswith("subprocess.") or qual in ("os.system", "os.popen")):
        return False
    for n in walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and L.NETWORK_COMMANDS.search(n.value):
            return True
    return False
