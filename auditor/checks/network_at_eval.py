"""EVAL-NET-001: network access or downloads while the submission runs.

What it does
    Finds calls that reach the network (HTTP clients, `hf_hub_download`, `snapshot_download`,
    `datasets.load_dataset`, `torch.hub`, sockets, `curl`/`wget` through subprocess) on the path the
    script executes.

Why is this bad?
    The artifact must be self-contained and reproducible: nothing may be fetched during evaluation,
    and a download during training brings in bits that are not counted.

Example
    path = hf_hub_download("someone/tables", "bigram.npy")   # at evaluation time

Use instead
    Ship everything inside the 16,000,000-byte artifact; fetch data only in a separate, documented
    preparation step.

References
    README FAQ (no network at evaluation; self-contained artifact).
"""
from __future__ import annotations

from . import Check, Detection, evidence_of


class NetworkAtEval(Check):
    TECHNIQUE = "network_at_eval"
    RULES = ("EVAL-NET-001",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for ev in facts.events("NET"):
            api = ev.event.info.get("api", "network call")
            phase = "after training starts" if facts.training_loop is None or ev.index > facts.trace.loop_spans[facts.training_loop.id][0] else "before training"
            msg = f"`{api}` reaches the network {phase} ({facts.evidence(ev).file}:{facts.evidence(ev).line})"
            out.append(Detection(self.RULES[0], ev.active, False, msg, evidence_of(facts, ev), 0.9 if phase != "before training" else 0.7))
        return out[:3]
