"""EVAL-NGRAM-005: state built over the validation stream, then the stream scored (again) with it.

What it does
    Finds scoring that runs after a complete pass over the validation data has updated something the
    scoring reads: a count table filled from the whole stream, or a model adapted by a full
    score-first pass whose tokens are then all scored again.

Why is this bad?
    When the second pass scores a token, the state already contains that token and everything after
    it. The reported number is not a single left-to-right code length (conditions C1, C4).

Example
    for chunk in chunks:                 # pass 1: builds the cache over all of val
        cache.update(chunk)
    for chunk in chunks:                 # pass 2: scores with the complete cache
        loss_sum += blended_nll(model, cache, chunk)

Use instead
    Score every token once, with state built only from tokens already scored.

References
    valerio-oai on #846, #868, #870, #881, #888, #893, #907, #959 (2026-03-27); valerio-oai on #991.
"""
from __future__ import annotations

from ..facts import L
from ..facts.adaptation import RESCORED, classify
from . import Check, Detection, evidence_of


class TwoPass(Check):
    TECHNIQUE = "two_pass"
    RULES = ("EVAL-NGRAM-005",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for a in classify(facts):
            if a.kind == RESCORED:
                s = a.later[0]
                msg = (f"after a pass that trains on validation tokens (step at line {facts.evidence(a.update.step).line}), "
                       f"the stream is scored again at {facts.evidence(s).file}:{facts.evidence(s).line} with the adapted model")
                out.append(Detection(self.RULES[0], a.active, False, msg, evidence_of(facts, s, a.update.step), 0.85))
        out.extend(self._table_rescoring(facts))
        return out

    def _table_rescoring(self, facts) -> list[Detection]:
        """A score reading a table whose writes all finished in a loop that ended before the score."""
        out = []
        writes = [w for w in facts.events("TWRITE") if L.VAL in w.labels or not w.labels]
        for s in facts.scores:
            tables = {x[len(L.TBL):] for x in s.labels if x.startswith(L.TBL)} - facts.byte_tables
            for table in sorted(tables):
                table_writes = [w for w in writes if w.event.info.get("table") == table and w.root == s.root]
                if not table_writes:
                    continue
                if all(w.loops and not s.inside(w.loops[0]) and facts.trace.loop_spans[w.loops[0].id][1] < s.index
                       for w in table_writes) or all(not w.loops and w.index < s.index and not s.loops for w in table_writes):
                    w = table_writes[0]
                    msg = (f"table `{table}` is filled over the validation stream (line {facts.evidence(w).line}) "
                           f"before the scoring at {facts.evidence(s).file}:{facts.evidence(s).line} reads it")
                    out.append(Detection(self.RULES[0], s.active and w.active, False, msg, evidence_of(facts, s, w), 0.8))
                    break
        return out
