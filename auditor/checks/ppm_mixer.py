"""EVAL-PPM-001: score computed over the bytes of the realized token (byte-level PPM mixtures).

What it does
    Finds score accumulations inside a loop over the bytes of tokens (from the tokenizer's pieces or
    their UTF-8 encodings) that also updates byte-keyed count tables: a token model "spread" over
    bytes and mixed with an online byte-level model (PPM), scored byte by byte.

Why is this bad?
    The mixture is defined only along the realized token's bytes; summed over all token ids it is not
    a distribution over the official alphabet, so it is not a code length for the tokens (condition C2).

Example
    for b in sp.id_to_piece(y).encode():
        p = lam * p_token ** (1 / n) + (1 - lam) * ppm.prob(ctx, b)
        bits += -math.log2(p); ppm.update(ctx, b)

Use instead
    Score a normalized distribution over token ids; a byte model must be turned into one first.

References
    Issue #1872; cocohearts audit notes on #1959, #1991, #2076, #2080, #2083, #2098, #2103 (2026-05-02).
"""
from __future__ import annotations

from ..facts import L
from . import Check, Detection, evidence_of


class PpmMixer(Check):
    TECHNIQUE = "ppm_mixer"
    RULES = ("EVAL-PPM-001",)

    def detect(self, facts) -> list[Detection]:
        byte_writes = [w for w in facts.events("TWRITE") if L.BYTES in w.labels]
        for s in facts.scores:
            byte_loop = next((l for l in s.loops if L.BYTES in l.iter_labels and any(w.inside(l) for w in byte_writes)), None)
            if byte_loop is not None:
                msg = (f"the score at {facts.evidence(s).file}:{facts.evidence(s).line} is accumulated byte by byte "
                       f"(loop over token bytes at line {byte_loop.line})")
                return [Detection(self.RULES[0], s.active, False, msg, evidence_of(facts, s, calls=True), 0.85)]
        return []
