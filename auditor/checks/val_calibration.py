"""EVAL-GPTQ-001: quantization calibration fed with validation tokens.

What it does
    Finds Hessian / Gram accumulations (`H += x.T @ x`, usually in forward hooks) and the model
    forwards that run them; reports when the batches come from validation data.

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


def calibration_inputs(facts, gram) -> list:
    """Model uses and file reads inside the call that collects Hessians: the function registering the
    hooks (when the accumulation sits in a hook), or the one accumulating directly."""
    depth = len(gram.calls) - (1 if gram.fn.parent is not None and gram.calls else 0)
    if gram.root == "main" and depth < 2:  # accumulating in the entry function itself: no call to scope it to
        return []
    frame = gram.calls[:depth]
    return [e for e in facts.trace.events if e.kind in ("USE", "READ") and e.root == gram.root
            and e.calls[:depth] == frame and e.labels & set(L.DATA)]


class ValCalibration(Check):
    TECHNIQUE = "val_calibration"
    RULES = ("EVAL-GPTQ-001",)

    def detect(self, facts) -> list[Detection]:
        for gram in facts.events("GRAM"):
            uses = [e for e in calibration_inputs(facts, gram) if L.VAL in e.labels]
            if uses:
                msg = (f"Hessian accumulation at {facts.evidence(gram).file}:{facts.evidence(gram).line} runs on validation "
                       f"tokens ({facts.evidence(uses[0]).file}:{facts.evidence(uses[0]).line})")
                return [Detection(self.RULES[0], gram.active and uses[0].active, False, msg, evidence_of(facts, uses[0], gram, calls=True), 0.85)]
        return []
