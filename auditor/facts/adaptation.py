"""How each update on validation data relates to the scoring of those tokens (conditions C3, C4).

For every optimizer step whose gradients come from validation data, the scoring accumulations of
the same run are sorted by their loop relation to the step:

* before, in a shared data loop (chunk / window / document) — the chunk was scored, then trained on;
* after, in a shared data loop — trained on, then scored (adapt-then-score, or SLOT for fresh deltas);
* inside a shared repeat loop (epochs, passes) — scored again after an update on the same tokens;
* after the step's loop has finished — the whole stream re-scored by the adapted model.

The step's kind follows from which of those exist; checks turn kinds into findings.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..syntax import walk
from . import labels as L
from .trace import LoopRef, TraceEvent

SCORE_FIRST = "score_first"  # legal: scored in the same chunk iteration before the update
ADAPT_THEN_SCORE = "adapt_then_score"  # trained on a chunk, then scored it
MULTIPASS = "multipass"  # scored inside an epoch/pass loop that also updates
RESCORED = "rescored"  # score-first pass, then everything scored again with the adapted model
PREQUANT = "prequant"  # trained on validation tokens with no scoring, scored afterwards
SLOT = "slot"  # a fresh delta/bias fitted on the window, then the window scored
UNSCORED = "unscored"  # trained on validation tokens; no later scoring found


@dataclass(eq=False)
class Adaptation:
    update: "object"  # facts.Update
    kind: str
    before: list[TraceEvent] = field(default_factory=list)
    after: list[TraceEvent] = field(default_factory=list)
    repeated: list[TraceEvent] = field(default_factory=list)
    later: list[TraceEvent] = field(default_factory=list)
    loop: LoopRef | None = None  # the repeat loop shared with a re-scoring, for MULTIPASS

    @property
    def active(self) -> bool:
        return self.update.step.active  # type: ignore[attr-defined]


def classify(facts) -> list[Adaptation]:
    """Classify every update whose loss comes from validation data and is not part of training."""
    out: list[Adaptation] = []
    train_loop = facts.training_loop
    for u in facts.updates:
        if L.VAL not in u.data or (train_loop is not None and u.step.inside(train_loop)):
            continue
        out.append(_classify_one(facts, u))
    return out


def _frame_scores(facts, u) -> list[TraceEvent]:
    return [s for s in facts.scores if s.root == u.step.root]


def _same_invocation(s: TraceEvent, step: TraceEvent) -> bool:
    """Whether `s` runs inside the call that holds the step's outermost loop (a local copy's lifetime)."""
    owner = step.loops[0].fn if step.loops else step.fn
    chain = [c[0] for c in step.calls] + [step.fn]
    depth = next((d for d, fn in enumerate(chain) if fn is owner), len(step.calls))
    s_chain = [c[0] for c in s.calls] + [s.fn]
    return s.calls[:depth] == step.calls[:depth] and len(s_chain) > depth and s_chain[depth] is owner


def _classify_one(facts, u) -> Adaptation:
    step = u.step
    result = Adaptation(u, UNSCORED)
    outer_end = facts.trace.loop_spans[step.loops[0].id][1] if step.loops else step.index
    for s in _frame_scores(facts, u):
        if exclusive(s, step) or (facts.view == "live" and step.active and not s.active):
            continue
        common = _common_loops(s.loops, step.loops)
        if common:
            repeat = [l for l in common if l.kind == "repeat"]
            if repeat and not _first_pass_only(s, step):
                result.repeated.append(s)
                result.loop = repeat[-1]
            elif s.index < step.index:
                result.before.append(s)
            else:
                result.after.append(s)
        elif s.index > outer_end and (not (u.local or u.fresh) or _same_invocation(s, step)):
            result.later.append(s)
    if u.fresh:
        result.kind = SLOT if (result.after or result.repeated or result.later) else UNSCORED
    elif result.repeated:
        result.kind = MULTIPASS
    elif result.before:
        result.kind = RESCORED if result.later and not u.local else SCORE_FIRST
    elif result.after:
        result.kind = ADAPT_THEN_SCORE
    elif result.later and not u.local:
        result.kind = PREQUANT
    return result


def exclusive(a: TraceEvent, b: TraceEvent) -> bool:
    """Events on the two sides of one `if`/`else`: they never both run."""
    sides = {id(g.branch): g.negated for g in a.guards}
    return any(id(g.branch) in sides and sides[id(g.branch)] != g.negated for g in b.guards)


def _common_loops(a: tuple[LoopRef, ...], b: tuple[LoopRef, ...]) -> list[LoopRef]:
    out = []
    for x, y in zip(a, b):
        if x is not y:
            break
        out.append(x)
    return out


def _first_pass_only(score: TraceEvent, step: TraceEvent) -> bool:
    """A score guarded by `epoch == 0` (or `not done`) runs before any update of the pass loop."""
    extra = [g for g in score.guards if g not in step.guards]
    return any("== 0" in g.cond and "-" not in g.cond for g in extra)


def slot_mask(facts, adaptation: Adaptation) -> str:
    """"context" when the delta's loss covers only positions before those that are then scored (its
    slices end where the scored slices start: `[:s]` vs `[s:wlen]`); "scored" otherwise."""
    bwd = adaptation.update.backward  # type: ignore[attr-defined]
    scored = (adaptation.after or adaptation.repeated or adaptation.later)
    if bwd is None or not scored:
        return "scored"
    node = bwd.event.node
    receiver = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else node
    fitted = _slices(bwd.fn, receiver)
    score_node = scored[0].event.node
    score_value = score_node.value if isinstance(score_node, (ast.AugAssign, ast.Assign)) else score_node
    score_starts = {ast.unparse(sl.lower) for sl in _slices(scored[0].fn, score_value) if sl.lower is not None}
    ends_at_score = [sl for sl in fitted if sl.upper is not None and ast.unparse(sl.upper) in score_starts]
    covers_score = [sl for sl in fitted if sl.lower is not None and ast.unparse(sl.lower) in score_starts]
    return "context" if ends_at_score and not covers_score else "scored"


def _slices(fn, expr: ast.AST) -> list[ast.Slice]:
    """Slices in an expression and in the assignments of the names it uses (two levels back)."""
    exprs: list[ast.AST] = [expr]
    names = {n.id for n in walk(expr) if isinstance(n, ast.Name)}
    for _ in range(2):
        for node in walk(fn.node):
            if isinstance(node, ast.Assign) and any(_target_base(t) in names for t in node.targets):
                exprs.extend([node.value, *node.targets])
                names |= {n.id for n in walk(node.value) if isinstance(n, ast.Name)}
    return [n for e in exprs for n in walk(e) if isinstance(n, ast.Slice)]


def _target_base(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def oracle_in_pass_loop(facts, oracle: TraceEvent) -> bool:
    """An oracle minimum inside a loop that also trains on validation data: a min over TTT passes."""
    for u in facts.updates:
        if L.VAL in u.data and u.step.root == oracle.root and _common_loops(oracle.loops, u.step.loops):
            return True
    return False
