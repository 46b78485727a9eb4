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
    """"scored" when the delta's loss covers positions that are then scored, "context" when only earlier ones."""
    bwd = adaptation.update.backward  # type: ignore[attr-defined]
    if bwd is None:
        return "scored"
    fn = bwd.fn
    receiver = bwd.event.node.func.value if isinstance(bwd.event.node, ast.Call) and isinstance(bwd.event.node.func, ast.Attribute) else None
    names = {receiver.id} if isinstance(receiver, ast.Name) else set()
    exprs: list[ast.AST] = [receiver] if receiver is not None else []
    for _ in range(2):  # the loss, then what it is built from (masks, sliced targets)
        for node in ast.walk(fn.node):
            if isinstance(node, ast.Assign) and any(_target_base(t) in names for t in node.targets):
                exprs.append(node.value)
                exprs.extend(node.targets)
                names |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
    slices = [n for e in exprs for n in ast.walk(e) if isinstance(n, ast.Slice)]
    context_only = [s for s in slices if _is_const_or_none(s.lower) and s.upper is not None and not _is_const_or_none(s.upper)]
    scored_like = [s for s in slices if s.lower is not None and not _is_const_or_none(s.lower)]
    return "context" if context_only and not scored_like else "scored"


def _target_base(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_const_or_none(node: ast.AST | None) -> bool:
    return node is None or isinstance(node, ast.Constant) or (isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


def oracle_in_pass_loop(facts, oracle: TraceEvent) -> bool:
    """An oracle minimum inside a pass loop that also trains on validation data: a min over TTT passes."""
    for u in facts.updates:
        if L.VAL in u.data and u.step.root == oracle.root:
            if any(l.kind == "repeat" for l in _common_loops(oracle.loops, u.step.loops)):
                return True
    return False
