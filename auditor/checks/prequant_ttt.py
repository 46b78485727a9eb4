"""EVAL-TTT-002: validation tokens trained on before they are scored (pre-eval, pre-quant TTT).

What it does
    Finds optimizer steps whose loss comes from validation tokens and that run before those tokens
    are scored: a training loop over the validation stream followed by the reported evaluation, or a
    chunk that is trained on and then scored in the same iteration.

Why is this bad?
    The reported score then comes from a model that has already seen the tokens it is graded on:
    training on the validation set (condition C3, score before update). Fine-tuning on validation data
    before quantization ("pre-quant TTT") is the same thing.

Example
    for epoch in range(10):
        for x, y in batches(val_tokens):
            model(x, y).backward(); opt.step()
    final_bpb = evaluate(model, val_tokens)

Use instead
    Score each chunk first and train only on chunks already scored (score-first TTT, EVAL-TTT-001).

References
    README (2026-03-20); 0hq on #152; valerio-oai on #417, #442, #462, #486, #555, #771; cocohearts on #1972.
"""
from __future__ import annotations

from ..facts.adaptation import ADAPT_THEN_SCORE, PREQUANT, UNSCORED, classify
from . import Check, Detection, evidence_of


class PrequantTTT(Check):
    TECHNIQUE = "prequant_ttt"
    RULES = ("EVAL-TTT-002",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for a in classify(facts):
            step = facts.evidence(a.update.step)
            if a.kind == PREQUANT:
                later = a.later[0]
                msg = (f"optimizer step at {step.file}:{step.line} trains on validation tokens that are scored only "
                       f"later ({facts.evidence(later).file}:{facts.evidence(later).line})")
                out.append(Detection(self.RULES[0], a.active, False, msg, evidence_of(facts, a.update.step, a.update.backward, later), 0.9))
            elif a.kind == ADAPT_THEN_SCORE:
                after = a.after[0]
                msg = (f"each chunk is trained on (step at {step.file}:{step.line}) before it is scored "
                       f"({facts.evidence(after).file}:{facts.evidence(after).line})")
                out.append(Detection(self.RULES[0], a.active, False, msg, evidence_of(facts, a.update.step, after), 0.85))
            elif a.kind == UNSCORED and not (a.update.local or a.update.fresh):
                uncalled = a.update.step.root != "main"  # nothing scores after code that never runs; judge what it would do
                msg = (f"optimizer step at {step.file}:{step.line} trains on validation tokens; no scoring of those tokens "
                       "was found before it, so it may precede the reported evaluation")
                out.append(Detection(self.RULES[0], a.active, False if uncalled else None, msg,
                                     evidence_of(facts, a.update.step, a.update.backward), 0.5))
        return out
