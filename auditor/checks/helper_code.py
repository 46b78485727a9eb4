"""SIZE-CODE-002: code loaded from other files of the folder at run time.

What it does
    Lists the folder modules the audited script imports, execs or runs, with their sizes; their code
    is audited with the script.

Why is this bad?
    The README counts the code in `train_gpt.py`; helper files are code too and can hide mechanisms
    from a reviewer who reads only the script. Merged #1514 imported a helper without counting it, so
    this is reported for review of the size accounting rather than as a violation.

Example
    from ngram_tilt import build_hints

Use instead
    Keep all code in `train_gpt.py`, or count every helper's bytes in the submission size.

References
    README FAQ (code lives in train_gpt.py); precedent: merged #1514 (ngram_tilt.py, fused_expert_kernel.cpp).
"""
from __future__ import annotations

from . import Check, Detection


class HelperCode(Check):
    TECHNIQUE = "helper_code"
    RULES = ("SIZE-CODE-002",)
    SOURCE_ONLY = True

    def detect(self, facts) -> list[Detection]:
        out = []
        for unit in facts.submission.units:
            if unit.role == "helper":
                size = len(unit.text.encode("utf-8"))
                msg = f"{unit.file} ({size:,} bytes) is loaded by the script at run time and audited with it"
                out.append(Detection(self.RULES[0], True, True, msg, (unit.evidence(1),), 1.0))
        return out
