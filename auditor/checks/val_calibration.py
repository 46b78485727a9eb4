"""EVAL-GPTQ-001: quantization calibration fed with validation tokens.

What it does
    Finds Hessian / Gram accumulations (`H += x.T @ x`, usually in forward hooks) and the model
    forwards that run them, and reports when the batches come from validation data. Also reports
    quantization or evaluation settings picked by comparing losses measured on validation tokens.

Why is this bad?
    Calibrating the quantizer on tokens that have not been scored yet adapts the artifact to the
    evaluation set ("breaks autoregressivity", condition C3).

Example
    calib = DistributedTokenLoader(args.val_files, rank, world, device)
    hessians = collect_hessians(model, calib, n_batches=256)

Use instead
    Calibrate on training data inside the 600 s budget, or on text the model generates itself.

References
    valerio-oai on #728 (2026-03-28); self-generated calibration accepted in merged #1019.
"""
from __future__ import annotations

from ..facts import L
from . import Check, Detection, evidence_of


class ValCalibration(Check):
    TECHNIQUE = "val_calibration"
    RULES = ("EVAL-GPTQ-001",)

    def detect(self, facts) -> list[Detection]:
        for gram in facts.events("GRAM"):
            uses = sorted((e for e in facts.calibration_inputs(gram) if L.VAL in e.labels), key=lambda e: e.kind != "USE")
            if uses:
                msg = (f"Hessian accumulation at {facts.evidence(gram).file}:{facts.evidence(gram).line} runs on validation "
                       f"tokens ({facts.evidence(uses[0]).file}:{facts.evidence(uses[0]).line})")
                return [Detection(self.RULES[0], gram.active and uses[0].active, False, msg, evidence_of(facts, uses[0], gram, calls=True), 0.85)]
        for ev in facts.events("SELECT"):
            if L.VAL in ev.labels and (facts.training_end < 0 or ev.index > facts.training_end):
                msg = (f"a setting is chosen by comparing validation losses ({facts.evidence(ev).file}:{facts.evidence(ev).line}) "
                       "before the validation tokens are scored")
                return [Detection(self.RULES[0], ev.active, False, msg, evidence_of(facts, ev, calls=True), 0.6)]
        return []
