"""EVAL-PPM-001: score computed over the bytes of the realized token (byte-level PPM mixtures).

What it does
    Finds scores that mix in probabilities read from count tables keyed by the bytes of tokens (the
    tokenizer's pieces or their UTF-8 encodings), or that are accumulated inside a loop over token
    bytes which updates such tables: a token model "spread" over bytes and mixed with an online
    byte-level model (PPM), scored byte by byte or as a product over a token's bytes.

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
            tables = sorted(L.table_mass(s.labels) & facts.byte_tables)
            byte_loop = next((lp for lp in s.loops if L.BYTES in lp.iter_labels and any(w.inside(lp) for w in byte_writes)), None)
            if byte_loop is not None:
                msg = (f"the score at {facts.evidence(s).file}:{facts.evidence(s).line} is accumulated byte by byte while a "
                       f"byte-level model is updated (loop over token bytes at line {byte_loop.line})")
                return [Detection(self.RULES[0], s.active, False, msg, evidence_of(facts, s, calls=True), 0.85)]
            if tables:
                write = next((w for w in facts.events("TWRITE") if w.event.info.get("table") in tables), None)
                msg = (f"the score at {facts.evidence(s).file}:{facts.evidence(s).line} mixes in probabilities of a byte-level "
                       f"model (table `{tables[0]}` counts bytes of the scored tokens)")
                return [Detection(self.RULES[0], s.active, False, msg, evidence_of(facts, s, write, calls=True), 0.85)]
        return []
