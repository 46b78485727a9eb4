"""EVAL-TTT-001: score-first test-time training (legal).

What it does
    Finds optimizer steps on validation tokens that run, inside one loop over chunks, windows or
    documents, only after that chunk's loss has been added to the reported score.

Why is this bad?
    It is not: the README (2026-03-20) allows test-time training on tokens that have already been
    graded. It is reported so a reviewer sees where the adaptation is and that the order holds.

Example
    for chunk in chunks:
        with torch.no_grad():
            loss_sum += score(model, chunk)      # scored first
        for _ in range(epochs):
            train_step(model, chunk)             # then trained on

Use instead
    Nothing to change. Keep the order; skip training on the last chunk if you like.

References
    README (2026-03-20); 0hq on #152; Issue #402; merged #549, #1493 (3 epochs per chunk), #1530 (per-document LoRA).
"""
from __future__ import annotations

from ..facts.adaptation import RESCORED, SCORE_FIRST, classify
from . import Check, Detection, evidence_of


class ScoreFirstTTT(Check):
    TECHNIQUE = "score_first_ttt"
    RULES = ("EVAL-TTT-001",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for a in classify(facts):
            if a.kind not in (SCORE_FIRST, RESCORED):
                continue
            first = a.before[0]
            msg = (f"trains on validation tokens at {facts.evidence(a.update.step).file}:{facts.evidence(a.update.step).line} "
                   f"only after the same chunk is scored ({facts.evidence(first).line})")
            out.append(Detection(self.RULES[0], a.active, True, msg, evidence_of(facts, a.update.step, first, a.update.backward), 0.85))
        return out
