"""EVAL-NGRAM-001 / -002 / -003: evaluation-time n-gram caches.

What it does
    Follows count tables written with validation tokens into the reported score. EVAL-NGRAM-001: a
    table's counts reach the score as probability mass without any normalization over the vocabulary
    (the blend is computed for the realized token only), or the table is read with the realized target
    in its key. EVAL-NGRAM-003: per token, the lower of two losses is kept (an oracle choice using the
    target). EVAL-NGRAM-002 (legal): the table feeds a full-vocabulary distribution that is normalized.

Why is this bad?
    A blend computed only for the realized token is not a probability distribution (hashed caches
    summed to ~277 and ~1000 over the vocabulary, #886, #1147), and a key that contains the target
    peeks at it (conditions C1, C2).

Example
    p_ng = full_counts[hash(ctx, y)] / ctx_counts[hash(ctx)]
    loss_sum += -np.log((1 - a) * p_model[y] + a * p_ng)

Use instead
    Build a full distribution over the vocabulary from context counts only, mix it with the model's
    distribution, renormalize, then score the target; update the counts after scoring.

References
    valerio-oai mass closures 2026-03-27 (#677); #779 (target in key); #659 (oracle min); #674, #1185 (normalized caches).
"""
from __future__ import annotations

from ..facts import L
from ..facts.adaptation import oracle_in_pass_loop
from . import Check, Detection, evidence_of


class NgramCache(Check):
    TECHNIQUE = "ngram_cache"
    RULES = ("EVAL-NGRAM-001", "EVAL-NGRAM-002", "EVAL-NGRAM-003")

    def detect(self, facts) -> list[Detection]:
        out: list[Detection] = []
        writes = [w for w in facts.events("TWRITE") if L.VAL in w.labels]
        reported: set[str] = set()
        for s in facts.scores:
            unnormalized = sorted(L.table_mass(s.labels) - facts.byte_tables)  # byte-level models: ppm_mixer
            target_reads = sorted(x[len(L.TREAD):] for x in s.labels if x.startswith(L.TREAD))
            for table in unnormalized:
                if table in reported:
                    continue
                reported.add(table)
                w = next((w for w in writes if w.event.info.get("table") == table), None)
                msg = (f"counts from table `{table}` reach the score at {facts.evidence(s).file}:{facts.evidence(s).line} "
                       "as probability mass for the realized token, with no normalization over the vocabulary")
                out.append(Detection("EVAL-NGRAM-001", s.active, False, msg, evidence_of(facts, s, w) + self._reads(facts, target_reads), 0.85))
            if target_reads and not unnormalized and "target-key" not in reported:
                reported.add("target-key")
                msg = f"a table is read with the realized target token in its key ({target_reads[0]}) and the value reaches the score"
                out.append(Detection("EVAL-NGRAM-001", s.active, False, msg, self._reads(facts, target_reads) + evidence_of(facts, s), 0.75))
            normed = {x[len(L.NORMED):] for x in s.labels if x.startswith(L.NORMED)}
            for table in sorted(normed - reported):
                reported.add(table)
                w = next((w for w in writes if w.event.info.get("table") == table), None)
                msg = f"cache `{table}` feeds a distribution normalized over the vocabulary before the target is scored"
                out.append(Detection("EVAL-NGRAM-002", s.active and (w is None or w.active), True, msg, evidence_of(facts, s, w), 0.7))
        for ev in facts.events("ORACLE"):
            if L.VAL in ev.labels and not oracle_in_pass_loop(facts, ev):
                msg = f"chooses per token between two losses computed with the true target ({facts.evidence(ev).file}:{facts.evidence(ev).line})"
                out.append(Detection("EVAL-NGRAM-003", ev.active, False, msg, evidence_of(facts, ev), 0.85))
        return out

    @staticmethod
    def _reads(facts, reads: list[str]):
        out = []
        for r in reads[:2]:
            file, _, line = r.rpartition(":")
            out.append(facts.evidence_at(file, int(line)))
        return tuple(out)
