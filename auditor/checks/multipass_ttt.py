"""EVAL-TTT-003: tokens scored again after an update that used them (multi-pass TTT).

What it does
    Finds scoring accumulations nested in an epoch or pass loop that also updates the model on the
    same tokens, and per-token minima over losses from different passes.

Why is this bad?
    From the second pass on, each token is scored by a model that has trained on it; keeping the last
    pass or the best pass leaks the evaluation tokens (conditions C3, C4: one left-to-right pass).

Example
    for epoch in range(epochs):
        for chunk in chunks:
            loss = model(chunk)
            if epoch == epochs - 1:
                loss_sum += loss.item()
            loss.backward(); opt.step()

Use instead
    Score every chunk once, before training on it; put the epoch loop inside the chunk loop.

References
    valerio-oai on #568, #573 (min over passes), #596, #605, #611, #614, #620, #642.
"""
from __future__ import annotations

from ..facts import L
from ..facts.adaptation import MULTIPASS, classify, oracle_in_pass_loop
from . import Check, Detection, evidence_of


class MultipassTTT(Check):
    TECHNIQUE = "multipass_ttt"
    RULES = ("EVAL-TTT-003",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for a in classify(facts):
            if a.kind != MULTIPASS:
                continue
            s = a.repeated[0]
            loop_line = a.loop.line if a.loop else 0
            msg = (f"scoring at {facts.evidence(s).file}:{facts.evidence(s).line} repeats in the pass loop at line {loop_line}, "
                   f"after the step at line {facts.evidence(a.update.step).line} has trained on the same tokens")
            out.append(Detection(self.RULES[0], a.active, False, msg, evidence_of(facts, s, a.update.step), 0.85))
        for ev in facts.events("ORACLE"):
            if L.VAL in ev.labels and oracle_in_pass_loop(facts, ev):
                msg = f"keeps the per-token minimum of losses from different adaptation passes ({facts.evidence(ev).file}:{facts.evidence(ev).line})"
                out.append(Detection(self.RULES[0], ev.active, False, msg, evidence_of(facts, ev), 0.9))
        return out
