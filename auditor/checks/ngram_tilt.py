"""EVAL-NGRAM-004: n-gram tilt — token-only renormalized tilts are legal, gates on the realized token are not.

What it does
    Finds scores where a hint token derived from a validation-built table selects an entry of the
    model's normalized distribution (p'(v) ∝ p(v)·exp(β·1[v = hint]), normalizer 1 + p(hint)(e^β − 1)),
    and reads the run's tilt log lines. Reports it as legal unless the gates that read a property of
    the realized token fired: `within_gate`, `word_gate` or `agree2plus` counts above zero, or a
    nonzero `within_beta`, in the logs (the code of those experts may be compiled C the auditor cannot read).

Why is this bad?
    A token-only tilt is a proper reweighting of the full distribution (merged #1514, #2135). Gates
    such as "within a word" computed from the token being predicted use that token to predict
    itself (condition C1).

Example
    is_word = starts_new_word[tokens[i]]          # realized token: illegal gate
    hint_gate[i] = is_word and top_prob >= tau

Use instead
    Derive hints and gates from the prefix only (`tokens[i - 1]`), and renormalize the tilt.

References
    PR #1420 causal fix; cocohearts audit notes on #2041, #2118, #2140 (2026-05-02); merged #1514, #2135.
"""
from __future__ import annotations

import re

from ..facts import L
from . import Check, Detection, evidence_of

_GATES = re.compile(r"\b(within_gate|word_gate|agree2plus|within_beta|word_beta)[=:]\s*(\d+(?:\.\d+)?)")


class NgramTilt(Check):
    TECHNIQUE = "ngram_tilt"
    RULES = ("EVAL-NGRAM-004",)

    def detect(self, facts) -> list[Detection]:
        fired = [(ev, m) for ev, m in facts.log_matches(_GATES) if float(m.group(2)) > 0]
        if fired:
            ev, m = fired[0]
            msg = f"the run's n-gram tilt used gates that read the realized token: {m.group(1)}={m.group(2)} ({ev.file}:{ev.line})"
            return [Detection(self.RULES[0], True, False, msg, tuple(e for e, _ in fired[:3]), 0.9)]
        for s in facts.scores:
            if L.TBLIDX in s.labels and not L.table_mass(s.labels):
                msg = f"score at {facts.evidence(s).file}:{facts.evidence(s).line} tilts the model's normalized distribution toward a table-derived hint token"
                return [Detection(self.RULES[0], s.active, True, msg, evidence_of(facts, s), 0.6)]
        return []
