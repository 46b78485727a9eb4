"""Flatten the item trees into one ordered trace of what the submission does when it runs.

Starting at the headline script's module body, calls are inlined (parameter labels replaced by the
caller's argument labels), so an event inside a helper appears where the helper is called, inside
the caller's loops and behind the caller's feature-flag guards. Each trace event knows its loop
instances (outermost first), whether every guard on its path can be true (`active`), and the guards.
Functions with events that the entry never reaches are traced separately as inactive (dead code), their
parameters given the data they would plausibly carry (`_guess_params`).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from . import labels as L
from .flow import BranchItem, CallItem, Event, Flow, Item, LoopItem
from .labels import substitute
from .program import Function

MAX_EVENTS = 60_000
MAX_DEPTH = 14
MAX_ITEMS = 400_000  # items visited while inlining: call trees can be exponential in the source size
_DATA = frozenset(L.DATA)


@dataclass(frozen=True, eq=False)
class LoopRef:
    """One dynamic instance of a loop (a loop inside a helper called twice gives two instances)."""

    id: int
    kind: str  # data | repeat | while
    fn: Function
    line: int
    iter_labels: frozenset[str]


@dataclass(frozen=True)
class Guard:
    branch: "BranchItem"
    negated: bool  # on the else side
    truth: bool | None  # what the condition evaluates to on this path (None: unknown)
    file: str
    line: int

    @property
    def cond(self) -> str:
        return f"not ({self.branch.cond})" if self.negated else self.branch.cond


@dataclass(eq=False)
class TraceEvent:
    index: int
    event: Event
    labels: frozenset[str]
    loops: tuple[LoopRef, ...]
    guards: tuple[Guard, ...]
    calls: tuple[tuple[Function, int], ...]  # call stack: (caller, call line), outermost first
    no_grad: bool
    active: bool
    root: str  # "main" or the name of the dead function this trace started at
    mapping: dict[str, frozenset[str]] = field(default_factory=dict)  # parameter labels at this call site

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def fn(self) -> Function:
        return self.event.fn

    @property
    def line(self) -> int:
        return self.event.line

    def inside(self, loop: LoopRef) -> bool:
        return any(l is loop for l in self.loops)


@dataclass
class Trace:
    events: list[TraceEvent] = field(default_factory=list)
    loop_spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # loop id -> (first, last) index
    truncated: bool = False
    reached: set[int] = field(default_factory=set)  # id(Function) of functions entered


class _Builder:
    def __init__(self, flow: Flow, trace: Trace, root: str, active: bool):
        self.flow = flow
        self.trace = trace
        self.root = root
        self.base_active = active
        self.visited = 0
        self.next_loop = len(trace.loop_spans) + 1_000_000 * (root != "main")

    def walk(self, items: list[Item], mapping: dict[str, frozenset[str]], loops: tuple[LoopRef, ...],
             guards: tuple[Guard, ...], calls: tuple[tuple[Function, int], ...], no_grad: bool, stack: tuple[int, ...]) -> None:
        """Append the events of `items` to the trace, inlining calls, loops and branches.

        A branch that ends the list is continued in this loop instead of by recursion (its else side, or
        its body when it has none, takes the list's place): an elif chain nests one branch per condition
        and a run of `if not ok: return` guards one per guard, and inlined calls multiply that depth."""
        while items:
            *head, last = items
            for item in head:
                if not self.visit(item, mapping, loops, guards, calls, no_grad, stack):
                    return
            if not isinstance(last, BranchItem):
                self.visit(last, mapping, loops, guards, calls, no_grad, stack)
                return
            if not self.admit():
                return
            if last.orelse:
                self.walk(last.body, mapping, loops, guards + (_guard(last, False),), calls, no_grad, stack)
                items, guards = last.orelse, guards + (_guard(last, True),)
            else:
                items, guards = last.body, guards + (_guard(last, False),)

    def admit(self) -> bool:
        """Count one more item visited; False (and the trace marked truncated) once over the bounds."""
        self.visited += 1
        if len(self.trace.events) >= MAX_EVENTS or self.visited > MAX_ITEMS:
            self.trace.truncated = True
            return False
        return True

    def visit(self, item: Item, mapping: dict[str, frozenset[str]], loops: tuple[LoopRef, ...],
              guards: tuple[Guard, ...], calls: tuple[tuple[Function, int], ...], no_grad: bool, stack: tuple[int, ...]) -> bool:
        """Trace one item; False when the trace is full (the walk stops)."""
        if not self.admit():
            return False
        if isinstance(item, Event):
            active = self.base_active and all(g.truth is not False for g in guards)
            self.trace.events.append(TraceEvent(
                len(self.trace.events), item, substitute(item.labels, mapping), loops, guards, calls,
                no_grad or item.no_grad, active, self.root, mapping))
        elif isinstance(item, CallItem):
            self.inline(item, mapping, loops, guards, calls, no_grad, stack)
        elif isinstance(item, LoopItem):
            self.loop(item, mapping, loops, guards, calls, no_grad, stack)
        elif isinstance(item, BranchItem):
            self.walk(item.body, mapping, loops, guards + (_guard(item, False),), calls, no_grad, stack)
            if item.orelse:
                self.walk(item.orelse, mapping, loops, guards + (_guard(item, True),), calls, no_grad, stack)
        return True

    def inline(self, item: CallItem, mapping: dict[str, frozenset[str]], loops: tuple[LoopRef, ...],
               guards: tuple[Guard, ...], calls: tuple[tuple[Function, int], ...], no_grad: bool, stack: tuple[int, ...]) -> None:
        """Walk each callee's items at the call site, its parameters bound to the caller's argument labels."""
        for callee in item.callees:
            self.trace.reached.add(id(callee))
            if id(callee) in stack or len(stack) >= MAX_DEPTH or not self.flow_has_events(callee):
                continue
            inner = {p: substitute(v, mapping) for p, v in item.mapping.items()}
            if callee.parent is not None and id(callee.parent) in stack:
                inner = {**mapping, **inner}  # a closure sees its enclosing call's parameters
            self.walk(self.flow.items[id(callee)], inner, loops, guards,
                      calls + ((item_fn(item, stack, self.flow), getattr(item.node, "lineno", 0)),),
                      no_grad or item.no_grad, stack + (id(callee),))

    def loop(self, item: LoopItem, mapping: dict[str, frozenset[str]], loops: tuple[LoopRef, ...],
             guards: tuple[Guard, ...], calls: tuple[tuple[Function, int], ...], no_grad: bool, stack: tuple[int, ...]) -> None:
        """One dynamic instance of a loop: its kind at this call site, and the span of events it encloses."""
        self.next_loop += 1
        iter_labels = substitute(item.iter_labels, mapping)
        if "BYTES" in substitute(item.walked, mapping):
            iter_labels = iter_labels | {"BYTES"}  # the loop walks a byte sequence
        kind = "data" if item.kind == "data" or iter_labels & {"VAL", "TRAIN", "VALN"} else item.kind
        ref = LoopRef(self.next_loop, kind, item.fn, getattr(item.node, "lineno", 0), iter_labels)
        start = len(self.trace.events)
        self.walk(item.items, mapping, loops + (ref,), guards, calls, no_grad, stack)
        self.trace.loop_spans[ref.id] = (start, len(self.trace.events) - 1)

    def flow_has_events(self, fn: Function) -> bool:
        return self.flow.has_events.get(id(fn), False)


def _guard(branch: BranchItem, negated: bool) -> Guard:
    """The guard on the body (`negated` False) or the else side of a branch."""
    truth = branch.truth
    if negated and truth is not None:
        truth = not truth
    return Guard(branch, negated, truth, branch.fn.unit.file, getattr(branch.node, "lineno", 0))


def item_fn(item: CallItem, stack: tuple[int, ...], flow: Flow) -> Function:
    """The function a call item sits in (the innermost function on the stack)."""
    return flow.fn_by_id[stack[-1]]


def build_trace(flow: Flow, entry: Function, dead_roots: bool = True) -> Trace:
    """The main trace from `entry`, then inactive traces for functions with events never reached."""
    _mark_event_functions(flow)
    trace = Trace()
    trace.reached.add(id(entry))
    _Builder(flow, trace, "main", True).walk(flow.items[id(entry)], {}, (), (), (), entry.no_grad, (id(entry),))
    if not dead_roots:
        return trace
    called = {id(c) for items in flow.items.values() for c in _callees(items)}
    by_name = _data_by_name(flow, trace.reached)
    for fn in flow.program.functions:
        if id(fn) in trace.reached or not flow.has_events.get(id(fn)) or id(fn) in called or fn.name == "<module>":
            continue
        trace.reached.add(id(fn))
        params = _guess_params(fn, flow.items[id(fn)], by_name)
        _Builder(flow, trace, fn.qualname, False).walk(flow.items[id(fn)], params, (), (), (), fn.no_grad, (id(fn),))
    return trace


def _guess_params(fn: Function, items: list[Item], by_name: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """For a function nobody calls, what its parameters would carry if called. Used only to report code
    that is present but never runs, so a plausible guess is enough:

    * what the parameter's name says (`val_tokens`, `train_x`; `token_bytes` holds bytes);
    * else the one kind of data a variable of that name holds in the code that runs (`toks` read from
      the validation shards by the evaluation);
    * else tokens a scoring function sums the loss of (see `_scored_tokens`): validation tokens."""
    scored = _scored_tokens(fn, items)
    out = {}
    for p in fn.params:
        low = p.lower()
        if "val" in low or "holdout" in low or "eval_tok" in low:
            data = frozenset({L.VAL})
        elif "train" in low:
            data = frozenset({L.TRAIN})
        else:
            data = by_name.get(p) or (frozenset({L.VAL}) if p in scored else frozenset())
        if "bytes" in low:
            data |= {L.BYTES}
        if data:
            out[p] = data
    return out


def _scored_tokens(fn: Function, items: list[Item]) -> set[str]:
    """Token parameters (named for tokens) of a plain function that returns a loss sum computed from them
    and steps no optimizer: an evaluation, and a submission evaluates validation tokens. A model's
    `forward` (a method) sums training losses as well, so methods are left out."""
    events = [i for i in flat_items(items) if isinstance(i, Event)]
    if fn.cls is not None or any(e.kind in ("STEP", "BACKWARD") for e in events):
        return set()
    params = {x[len(L.PARAM):] for e in events if e.kind == "SCORE" and e.info.get("returned") for x in e.labels if L.is_param(x)}
    return {p for p in params if "tok" in p.lower()}


def _data_by_name(flow: Flow, reached: set[int]) -> dict[str, frozenset[str]]:
    """Variable name -> the one kind of data (validation or training) it holds wherever the running code
    binds it. A name bound to both (`x` in the training and the evaluation loop) says nothing and is left out."""
    seen: dict[str, set[str]] = {}
    for fn in flow.program.functions:
        if id(fn) in reached or fn.name == "<module>":
            for name, labels in flow.vars[id(fn)].items():
                seen.setdefault(name, set()).update(labels & _DATA)
    return {name: frozenset(data) for name, data in seen.items() if len(data) == 1}


def callees_of(items: list[Item]):
    """Every function an item tree calls (in any branch it contains)."""
    return _callees(items)


def _callees(items: list[Item]):
    for item in flat_items(items):
        if isinstance(item, CallItem):
            yield from item.callees


def flat_items(items: list[Item]) -> Iterator[Item]:
    """The events and calls of an item tree, inside its loops and branches."""
    for item in items:
        if isinstance(item, LoopItem):
            yield from flat_items(item.items)
        elif isinstance(item, BranchItem):
            yield from flat_items(item.body)
            yield from flat_items(item.orelse)
        else:
            yield item


def _mark_event_functions(flow: Flow) -> None:
    """has_events[f]: f, or something it calls, produces at least one event."""
    flow.fn_by_id = {id(f): f for f in flow.program.functions}
    direct: dict[int, bool] = {}
    calls: dict[int, set[int]] = {}
    for f in flow.program.functions:
        items = flow.items[id(f)]
        direct[id(f)] = _has_event(items)
        calls[id(f)] = {id(c) for c in _callees(items)}
    has = dict(direct)
    changed = True
    while changed:
        changed = False
        for fid, callees in calls.items():
            if not has[fid] and any(has.get(c) for c in callees):
                has[fid] = True
                changed = True
    flow.has_events = has


def _has_event(items: list[Item]) -> bool:
    for item in items:
        if isinstance(item, Event):
            return True
        if isinstance(item, LoopItem) and _has_event(item.items):
            return True
        if isinstance(item, BranchItem) and (_has_event(item.body) or _has_event(item.orelse)):
            return True
    return False
