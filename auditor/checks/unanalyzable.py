"""AUDIT-001: code the auditor could not analyze.

What it does
    Reports what the static audit could not see: exec/eval payloads built at run time or that fail to
    decode (corrupt, oversized, nested too deep), helper files that do not parse, links out of the folder.

Why is this bad?
    A mechanism inside code nobody can read cannot be cleared; a reviewer must look at it.

Example
    exec(requests.get(url).text)          # or a payload that decompresses to 2 GB

Use instead
    Ship readable code or a wrapper built only from literals and standard decoders.

References
    pgolf-audit policy: a static audit states what it could not analyze instead of passing it.
"""
from __future__ import annotations

from reports.model import Evidence

from . import Check, Detection


class Unanalyzable(Check):
    TECHNIQUE = ""
    RULES = ("AUDIT-001",)

    def detect(self, facts) -> list[Detection]:
        out = []
        for p in facts.submission.problems:
            out.append(Detection(self.RULES[0], True, None, p.message, (Evidence(p.file, p.line, ""),), 1.0))
        if not facts.submission.main.text.strip():
            out.append(Detection(self.RULES[0], True, None, "the script is empty: nothing to analyze", (Evidence(facts.submission.main.file, 1, ""),), 1.0))
        if facts.trace.truncated:
            out.append(Detection(self.RULES[0], True, None, "the program is too large to trace completely; later events were not analyzed", (), 0.5))
        return out
