"""DATA-VAL-001: validation data used for training or stored in the artifact.

What it does
    Finds optimizer steps inside the main training loop whose loss includes validation tokens, and
    helper scripts in the folder that read validation shards and write a file the submission reads
    (a "paid prefix": the same name, or a file of the same type named by the run command).

Why is this bad?
    Training, and the artifact, must be built as if the validation set did not exist; compressing
    validation text into the artifact is not language modeling.

Example
    for step in range(iterations):
        x, y = mix(train_loader.next_batch(), val_tokens[i:j])
        model(x, y).backward(); opt.step()

Use instead
    Train only on `fineweb_train_*` shards; validate on held-out data only through scoring.

References
    README (2026-03-20); 0hq on #168; cocohearts on #262 ("not going to allow using val tokens at all").
"""
from __future__ import annotations

from ..facts import L
from . import Check, Detection, evidence_of
from .siblings import validation_writers


_MODEL_SUFFIXES = {"pt", "pth", "ptz", "bin", "safetensors"}  # checkpoints and shards: exact names only


class ValInTraining(Check):
    TECHNIQUE = "val_in_training"
    RULES = ("DATA-VAL-001",)

    def detect(self, facts) -> list[Detection]:
        out = []
        loop = facts.training_loop
        for u in facts.updates:
            if L.VAL in u.data and L.TRAIN in u.data and loop is not None and u.step.inside(loop):
                entry = facts.first_statement_with(u.step, loop, L.VAL, without=L.TRAIN, skip_calls=facts.evaluation_functions)
                # validation shards read inside the loop, or read from one file list with training shards
                reads = [e for e in facts.trace.events if e.kind == "READ" and L.VAL in e.labels
                         and (e.inside(loop) or (L.TRAIN in e.labels and e.index <= facts.training_end))]
                if entry is None and not reads:
                    continue  # no validation source inside the loop: names shared with an eval loop, not data
                where = (u.step.fn.unit.evidence(entry),) if entry else evidence_of(facts, reads[0], calls=True)
                msg = f"the training step at {facts.evidence(u.step).file}:{facts.evidence(u.step).line} trains on a loss that includes validation tokens"
                out.append(Detection(self.RULES[0], u.active, False, msg, where + evidence_of(facts, u.step, u.backward), 0.85))
                break
        for writer, names in validation_writers(facts.submission):
            suffixes = {n.rsplit(".", 1)[-1] for n in names if "." in n} - _MODEL_SUFFIXES
            reads = [e for e in facts.trace.events if e.kind in ("READ", "USE")
                     and any(x.startswith(L.FILE) and (x[len(L.FILE):] in names or x.rsplit(".", 1)[-1] in suffixes) for x in e.labels)]
            if reads:
                msg = (f"{writer} builds {', '.join(sorted(names))} from validation shards and the submission reads it "
                       f"({facts.evidence(reads[0]).file}:{facts.evidence(reads[0]).line})")
                out.append(Detection(self.RULES[0], reads[0].active, False, msg, evidence_of(facts, reads[0], calls=True), 0.8))
        return out
