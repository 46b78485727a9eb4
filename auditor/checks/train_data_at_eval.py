"""EVAL-TRAINDATA-001: training shards read after the training loop, outside a timed reserve.

What it does
    Finds reads of training shards and model forwards on training tokens that happen after the main
    training loop has ended, and checks whether the training loop stops early to reserve time for
    them. Calibration (Hessians, activation statistics through hooks), updates or count tables built
    from them are violations; other reads (a temperature fit, diagnostics) are left for review.

Why is this bad?
    Artifact creation is not untimed: anything that touches training data after the 600 s clock is
    training outside the budget, or training data at evaluation time, which the README forbids.

Example
    while elapsed_ms < max_wallclock_ms: train_step()
    calib = DistributedTokenLoader(args.train_files, rank, world, device)   # after the clock
    hessians = collect_hessians(model, calib)

Use instead
    Stop the training loop early by a reserve (`max_wallclock_ms -= reserve_ms`) that covers
    calibration, or calibrate on self-generated text.

References
    README (no training data at evaluation); valerio-oai on #569, #593, #606, #609, #615, #626, #656, #1028.
"""
from __future__ import annotations

import ast
import re

from ..facts import L
from ..facts.values import UNKNOWN
from ..syntax import walk
from . import Check, Detection, evidence_of

_BUDGET = re.compile(r"wall|clock|budget|deadline|cap|limit|max_.*(ms|sec|time)", re.I)
_CLOCK_READING = re.compile(r"perf_counter|time\(\)|elapsed|\bt0\b|start|now", re.I)


def timed_reserve(facts):
    """(function, statement) that shortens the training budget (`cap -= reserve`, `cap - reserve`):
    searched in the training loop's function and in every function on the call path to it."""
    loop = facts.training_loop
    if loop is None:
        return None
    step = next((u.step for u in facts.updates if u.step.inside(loop)), None)
    scope = [loop.fn] + ([c[0] for c in step.calls] if step else [])
    for fn in scope:
        found = _reserve_in(facts, fn)
        if found is not None:
            return fn, found
    return None


def _reserve_in(facts, fn):
    """`cap_ms -= reserve` or `effective = cap_ms - reserve`: a time budget (a name, not a clock reading)
    reduced by a positive (or configurable) amount."""
    for node in walk(fn.node):
        pair = None
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub):
            pair = (node.target, node.value)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
            pair = (node.left, node.right)
        if pair is None or not isinstance(pair[0], (ast.Name, ast.Attribute)):
            continue
        budget = pair[0].id if isinstance(pair[0], ast.Name) else pair[0].attr
        if _BUDGET.search(budget) and not _CLOCK_READING.search(ast.unparse(pair[1])):
            amount = facts.evaluator.eval(pair[1], fn)
            if amount is UNKNOWN or (isinstance(amount, (int, float)) and amount > 0):
                return node
    return None


class TrainDataAtEval(Check):
    TECHNIQUE = "train_data_at_eval"
    RULES = ("EVAL-TRAINDATA-001",)

    def detect(self, facts) -> list[Detection]:
        dead = self._dead_calibration(facts)
        end = facts.training_end
        if end < 0:
            return dead
        late = [e for e in facts.trace.events if e.kind in ("READ", "USE") and e.root == "main" and e.index > end
                and L.TRAIN in e.labels and L.VAL not in e.labels]
        if not late:
            return dead
        if timed_reserve(facts) is not None:
            return dead  # the loop stops early to leave time for it: part of training (TIME-004 as practiced)
        consumers = self._consumers(facts, late)
        first = consumers[0] if consumers else late[0]
        where = f"{facts.evidence(first).file}:{facts.evidence(first).line}"
        if consumers:
            msg = f"training data feeds calibration or updates after the training loop ended ({where}) and the loop reserves no time for it"
            return [Detection(self.RULES[0], first.active, False, msg, evidence_of(facts, first, late[0], calls=True, limit=8), 0.8)]
        msg = f"training data is read after the training loop ended ({where}); check that nothing it computes reaches the artifact or the score"
        return [Detection(self.RULES[0], first.active, None, msg, evidence_of(facts, first, calls=True), 0.5)]

    @staticmethod
    def _consumers(facts, late: list) -> list:
        """Late training-data events that build something: Hessian/Gram calibration inputs, optimizer
        updates on training data, or count tables keyed by training tokens."""
        end = facts.training_end
        collectors = [g for g in facts.events("GRAM") + facts.events("HOOK") if g.index > end]
        calibration = {id(e) for g in collectors for e in facts.calibration_inputs(g)}
        out = [e for e in late if id(e) in calibration]
        out += [u.step for u in facts.updates if u.step.index > end and L.TRAIN in u.data and u.step.root == "main"]
        out += [w for w in facts.events("TWRITE") if w.index > end and L.TRAIN in w.labels and w.root == "main"]
        return sorted(out, key=lambda e: (e.kind == "READ", e.index))  # the model use first, then file reads

    @staticmethod
    def _dead_calibration(facts) -> list[Detection]:
        """A calibration routine on training shards that is never called (reported as switched off)."""
        for gram in facts.events("GRAM"):
            if gram.root != "main":
                reads = [e for e in facts.calibration_inputs(gram) if L.TRAIN in e.labels]
                if reads:
                    msg = f"`{gram.root}` calibrates on training shards ({facts.evidence(reads[0]).file}:{facts.evidence(reads[0]).line})"
                    return [Detection("EVAL-TRAINDATA-001", False, False, msg, evidence_of(facts, reads[0], gram, calls=True), 0.6)]
        return []
