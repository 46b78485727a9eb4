"""EVAL-SLOT-001 / EVAL-SLOT-002: per-window delta or logit bias fitted before scoring (SLOT).

What it does
    Finds tensors created with `requires_grad` during evaluation (a hidden-state delta, a logit bias)
    that an optimizer fits on a window's loss before the same window is scored. When the fitted loss
    covers the scored positions it is EVAL-SLOT-001; when it covers only earlier context positions it
    is EVAL-SLOT-002 (no ruling; review).

Why is this bad?
    The optimizer directly minimizes the loss that is then reported: the prediction for token t uses
    token t (conditions C1, C3). PR #1240 showed flipping one target changes the NLL of other scored
    positions in every tested pair.

Example
    delta = torch.zeros(1, 1, d, requires_grad=True)
    opt = torch.optim.AdamW([delta], lr=0.01)
    for _ in range(steps):
        loss = F.cross_entropy(head(h + delta)[:, s:], y[:, s:]); loss.backward(); opt.step()
    loss_sum += F.cross_entropy(head(h + delta)[:, s:], y[:, s:], reduction="sum")

Use instead
    Score with the fixed artifact; adapt only on tokens already scored (score-first TTT).

References
    Community analysis #1240, #1336; no SLOT submission was merged; merged records declare `no_slot`.
"""
from __future__ import annotations

from ..facts.adaptation import SLOT, classify, slot_mask
from . import Check, Detection, evidence_of


class Slot(Check):
    TECHNIQUE = "slot"
    RULES = ("EVAL-SLOT-001", "EVAL-SLOT-002")

    def detect(self, facts) -> list[Detection]:
        out = []
        for a in classify(facts):
            if a.kind != SLOT:
                continue
            scored = (a.after or a.repeated or a.later)[0]
            where = f"{facts.evidence(a.update.step).file}:{facts.evidence(a.update.step).line}"
            if slot_mask(facts, a) == "context":
                msg = f"a fresh delta is fitted on context positions only ({where}) before the window is scored"
                out.append(Detection("EVAL-SLOT-002", a.active, None, msg, evidence_of(facts, a.update.step, scored), 0.7))
            else:
                msg = f"a fresh delta/bias is fitted on the window's targets ({where}) and the same positions are then scored"
                out.append(Detection("EVAL-SLOT-001", a.active, False, msg, evidence_of(facts, a.update.step, a.update.backward, scored), 0.9))
        return out
