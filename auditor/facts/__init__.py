"""What a submission's code does, computed once and queried by every check.

`compute_facts(submission, env)` builds the program index, evaluates feature flags, runs the data
flow to a fixpoint and flattens everything into one ordered trace. `Facts` then answers the
questions checks ask: where the optimizer steps and on what data, where the reported score is
accumulated, which loop is the training loop, what runs after it.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property

from reports.model import Evidence

from ..source import Submission
from ..syntax import children, walk
from . import labels as L
from .flow import Flow
from .program import Program, build_program
from .trace import LoopRef, Trace, TraceEvent, build_trace, flat_items
from .values import EnvRead, Evaluator

__all__ = ["Facts", "compute_facts", "Update", "LoopRef", "TraceEvent", "L"]


@dataclass(eq=False)
class Update:
    """An optimizer step in the trace and the data its gradients came from."""

    step: TraceEvent
    backward: TraceEvent | None
    data: frozenset[str]  # VAL / TRAIN labels of the loss behind the step
    fresh: bool  # the optimizer holds tensors created for this evaluation (SLOT-style deltas)
    local: bool  # the optimizer holds a locally created copy or adapter (updates do not outlive it)

    @property
    def active(self) -> bool:
        return self.step.active


@dataclass
class Facts:
    submission: Submission
    program: Program
    evaluator: Evaluator
    flow: Flow
    trace: Trace
    env: dict[str, str] = field(default_factory=dict)
    full: "Facts | None" = None  # the same program with every branch followed (code present but switched off)
    view: str = "live"  # "live": branches the environment takes; "full": every branch
    logs: dict[str, str] = field(default_factory=dict)  # the run's logs (name -> text), for log evidence
    switched_on: tuple[str, ...] = ()  # flags set to "1" because their branch's output is in the logs

    # -- locations ------------------------------------------------------------------------------
    def evidence(self, ev: TraceEvent) -> Evidence:
        return ev.fn.unit.evidence(ev.line)

    def evidence_at(self, unit_file: str, line: int) -> Evidence:
        for unit in self.submission.units:
            if unit.file == unit_file and unit.decoded_at is None:
                return unit.evidence(line)
        return Evidence(unit_file, line, "")

    # -- derived facts --------------------------------------------------------------------------
    @cached_property
    def updates(self) -> list[Update]:
        """Every optimizer step, with the most recent backward before it in the same trace root."""
        out: list[Update] = []
        last_bwd: dict[str, TraceEvent] = {}
        for ev in self.trace.events:
            if ev.kind == "BACKWARD":
                last_bwd[ev.root] = ev
            elif ev.kind == "STEP" and L.OPT in ev.labels and ev.fn.cls not in self.flow.optimizer_classes:
                bwd = last_bwd.get(ev.root)
                data = frozenset(x for x in (bwd.labels if bwd else ()) if x in L.DATA)
                raw = ev.event.labels  # before substitution: what the stepping function itself created
                local = (L.LOCAL in raw and L.FRESH not in raw) or self._restored(ev)
                out.append(Update(ev, bwd, data, L.FRESH in raw, local))
        return out

    def _restored(self, step: TraceEvent) -> bool:
        """Weights put back after the updates: a frame snapshots `state_dict()` before the call that steps
        and loads that snapshot after it (a compile warm-up, not adaptation)."""
        frames = [(fn, line) for fn, line in step.calls] + [(step.fn, step.line)]
        for fn, line in frames[1:]:
            if isinstance(fn.node, ast.Module):
                continue
            snapshots, loads = self._snapshots(fn)
            taken = {name for name, at in snapshots if at < line}
            if any(at > line and names & taken for at, names in loads):
                return True
        return False

    def _snapshots(self, fn) -> tuple[list[tuple[str, int]], list[tuple[int, set[str]]]]:
        """(names assigned from `state_dict()` with their lines, `load_state_dict` calls with the names they read)."""
        cache = self.__dict__.setdefault("_snapshot_cache", {})
        if id(fn) not in cache:
            snapshots = [(t.id, n.lineno) for n in walk(fn.node) if isinstance(n, ast.Assign)
                         and any(isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "state_dict" for c in walk(n.value))
                         for t in n.targets if isinstance(t, ast.Name)]
            loads = [(n.lineno, {a.id for a in walk(n.args[0]) if isinstance(a, ast.Name)})
                     for n in walk(fn.node) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "load_state_dict" and n.args]
            cache[id(fn)] = (snapshots, loads)
        return cache[id(fn)]

    @cached_property
    def training_loop(self) -> LoopRef | None:
        """The main training loop: the last outermost loop of `main` that steps an optimizer on training data."""
        loops: dict[int, tuple[bool, LoopRef]] = {}  # loop id -> (any step on training data only, loop)
        for u in self.updates:
            if u.step.root == "main" and L.TRAIN in u.data and u.step.loops:
                loop = u.step.loops[0]
                pure = loops.get(loop.id, (False, loop))[0] or L.VAL not in u.data
                loops[loop.id] = (pure, loop)
        if not loops:
            return None
        # the last one (warm-up loops come first); a loop that also trains on validation data counts only
        # when no loop trains on training data alone (then it is the training loop, mixing in validation).
        # Variables shared by a training loop and a TTT loop blur their labels: a loop that reads training
        # shards itself wins.
        reading = {id(l) for e in self.trace.events if e.kind == "READ" and L.TRAIN in e.labels and L.VAL not in e.labels
                   for l in e.loops[:1]}
        pure = [loop for ok, loop in loops.values() if ok]
        candidates = pure or [loop for _, loop in loops.values()]
        return max([loop for loop in candidates if id(loop) in reading] or candidates, key=lambda loop: loop.id)

    @cached_property
    def training_end(self) -> int:
        """Trace index after which training is over (-1 when no training loop was found)."""
        loop = self.training_loop
        return self.trace.loop_spans[loop.id][1] if loop else -1

    @cached_property
    def scores(self) -> list[TraceEvent]:
        """Accumulations of a loss computed on validation data: where the reported metric is summed.

        A sum of the very loss that is backpropagated is a training-loss log, unless the function
        returns it (then it is what gets reported)."""
        return [e for e in self.trace.events if e.kind == "SCORE" and L.VAL in e.labels and L.LOSS in e.labels
                and (not e.event.info.get("from_bwd") or e.event.info.get("returned"))]

    @cached_property
    def byte_tables(self) -> set[str]:
        """Count tables keyed by the bytes of tokens (at the call site): byte-level models (PPM)."""
        return {w.event.info.get("table", "") for w in self.trace.events if w.kind == "TWRITE" and L.BYTES in w.labels}

    def calibration_inputs(self, gram: TraceEvent) -> list[TraceEvent]:
        """Model uses and file reads inside the call that accumulates a Hessian/Gram matrix: the function
        registering the hooks (when the accumulation sits in a hook) or the one accumulating directly."""
        depth = len(gram.calls) - (1 if gram.fn.parent is not None and gram.calls else 0)
        if gram.root == "main" and depth < 2:  # accumulating in the entry function itself: no call to scope it to
            return []
        frame = gram.calls[:depth]
        return [e for e in self.trace.events if e.kind in ("USE", "READ") and e.root == gram.root
                and e.calls[:depth] == frame and e.labels & set(L.DATA)]

    def sources_at(self, ev: TraceEvent, node: ast.AST) -> list[frozenset[str]]:
        """Labels of each variable and attribute an expression reads (sizes aside), at `ev`'s call site."""
        out: list[frozenset[str]] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in ("len", "numel", "size", "nelement"):
                continue  # a size is not the data
            if isinstance(n, ast.Attribute) and n.attr in ("shape", "ndim"):
                continue
            if isinstance(n, ast.Name):
                out.append(L.substitute(self.flow.lookup(ev.fn, n.id), ev.mapping))
            elif isinstance(n, ast.Attribute):
                out.append(frozenset(self.flow.attrs.get(n.attr, set())))
            stack.extend(children(n))
        return out

    @cached_property
    def evaluation_functions(self) -> set[str]:
        """Names of functions that accumulate a score themselves: calling one evaluates, it feeds no data."""
        from .flow import Event

        return {f.name for f in self.program.functions
                if any(isinstance(i, Event) and i.kind == "SCORE" for i in flat_items(self.flow.items.get(id(f), [])))}

    def first_statement_with(self, ev: TraceEvent, loop: LoopRef, label: str, without: str = "",
                             skip_calls: set[str] = frozenset()) -> int | None:
        """Line of the first assignment inside `loop` (in `ev`'s function) reading a variable that carries
        `label` (and not `without`: a source of that data, not a variable it was merged into); assignments
        from calls named in `skip_calls` (evaluations) are passed over."""
        loop_node = next((n for n in walk(loop.fn.node) if isinstance(n, (ast.For, ast.While)) and n.lineno == loop.line), None)
        if loop_node is None or loop.fn is not ev.fn:
            return None
        lines = [n.lineno for n in walk(loop_node) if isinstance(n, (ast.Assign, ast.AugAssign))
                 and not (isinstance(n.value, ast.Call) and getattr(n.value.func, "attr", getattr(n.value.func, "id", "")) in skip_calls)
                 and any(label in labels and without not in labels for labels in self.sources_at(ev, n.value))]
        return min(lines, default=None)

    def switched_off(self, fn, node: ast.AST) -> bool:
        """Whether `node` sits in a branch of `fn` that the environment never takes (`if FLAG:` false)."""
        parents: dict[int, ast.AST] = {}
        for parent in walk(fn.node):
            for child in children(parent):
                parents[id(child)] = parent
        child, cur = node, parents.get(id(node))
        while cur is not None:
            if isinstance(cur, (ast.If, ast.IfExp)):
                truth = self.evaluator.truth(cur.test, fn)
                in_body = child in (cur.body if isinstance(cur, ast.If) else [cur.body])
                if truth is not None and truth != in_body and child is not cur.test:
                    return True
            child, cur = cur, parents.get(id(cur))
        return False

    @cached_property
    def runs(self) -> set[int]:
        """Functions the run can enter (ids): the trace's, and everything they call, events or not."""
        from .trace import callees_of

        seen = set(self.trace.reached)
        todo = list(seen)
        while todo:
            fid = todo.pop()
            for callee in callees_of(self.flow.items.get(fid, [])):
                if id(callee) not in seen:
                    seen.add(id(callee))
                    todo.append(id(callee))
        return seen

    def class_used(self, cls: str) -> bool:
        """Whether the run constructs the class (its `__init__` runs), when it defines one."""
        inits = self.program.method_of(cls, "__init__")
        return not inits or any(id(f) in self.runs for f in inits)

    def log_matches(self, pattern: "re.Pattern[str]") -> list[tuple[Evidence, "re.Match[str]"]]:
        """Lines of the run's logs matching `pattern`, as evidence (file, line, text) with the match."""
        out = []
        for name, text in sorted(self.logs.items()):
            for i, line in enumerate(text.splitlines(), 1):
                m = pattern.search(line)
                if m:
                    out.append((Evidence(name, i, line.strip()[:240]), m))
        return out

    def events(self, kind: str) -> list[TraceEvent]:
        return [e for e in self.trace.events if e.kind == kind]

    @cached_property
    def env_reads(self) -> list[EnvRead]:
        return self.evaluator.env_reads

    def flag_note(self, ev: TraceEvent) -> str:
        """Why an event is inactive: the guard that is false with the effective environment."""
        if ev.root != "main":
            return f"`{ev.root}` is never called"
        for g in ev.guards:
            if g.truth is False:
                return f"guard `{g.cond}` ({g.file}:{g.line}) is false with the {'given' if self.env else 'default'} environment"
        return ""


def compute_facts(submission: Submission, env: dict[str, str] | None = None,
                  logged: dict[str, str] | None = None, logs: dict[str, str] | None = None) -> Facts:
    """Two views of one program: `live` follows only the branches the environment can take; its
    `full` twin follows every branch and traces uncalled functions, to report what is switched off.

    `env` is the environment (given, or from the run command); `logged` holds hyperparameters a run's
    log printed (`ppm_enabled: True`), applied to the variables those config attributes read;
    `logs` (name -> text) turn on flags whose guarded log lines they contain, and are kept as evidence."""
    env = dict(env or {})
    program = build_program(submission)
    evaluator = Evaluator(program, env)
    evaluator.apply_logged_settings(logged or {})
    switched_on = tuple(sorted(evaluator.apply_observed_logs("\n".join((logs or {}).values()))))
    views: list[Facts] = []
    for prune in (True, False):
        flow = Flow(program, evaluator, prune=prune)
        flow.run(seed=views[0].flow if views else None)
        trace = build_trace(flow, program.module_body[id(submission.main)], dead_roots=not prune)
        views.append(Facts(submission, program, evaluator, flow, trace, env, view="live" if prune else "full",
                           logs=dict(logs or {}), switched_on=switched_on))
    live, full = views
    live.full = full
    return live
