"""SIZE-CODE-001: code shipped as a compressed exec wrapper (decoded and audited).

What it does
    Reports each `exec(decompress(decode(...)))` payload the loader decoded, and the decoders used;
    every other check then audits the decoded code.

Why is this bad?
    It is allowed: merged records count the compressed size of the script. It is reported because the
    readable source is not what the folder shows, and because the logged code size must match the
    shipped wrapper (the verifier checks that).

Example
    exec(lzma.decompress(base64.b85decode("...")))

Use instead
    Nothing to change; keep the readable source beside the wrapper for reviewers.

References
    Merged #1394, #1514, #1855, #1868; regina-openai and cocohearts on #1835 (logged size is what counts).
"""
from __future__ import annotations

from . import Check, Detection


class CompressedCode(Check):
    TECHNIQUE = "compressed_code"
    RULES = ("SIZE-CODE-001",)
    SOURCE_ONLY = True

    def detect(self, facts) -> list[Detection]:
        out = []
        for unit in facts.submission.units:
            if unit.role == "decoded":
                chain = " -> ".join(unit.chain) or "literal"
                msg = f"{unit.file}:{unit.decoded_at} decodes {len(unit.text):,} characters of code ({chain}); audited as decoded"
                out.append(Detection(self.RULES[0], True, True, msg, (unit.evidence(1),), 1.0))
        return out
