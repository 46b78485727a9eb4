"""`--smoke`: import the submitted script in the sandbox and read its model shape (RULES.md SUB-003).

The script is imported from a scratch copy of the folder with a module name other than "__main__",
stand-ins for CUDA-only modules, no network and time/memory limits (see `sandbox`). A failure is
attributed to the submission only when it is raised by the submission's own code for a reason that
cannot come from our harness (missing package, stand-in, CPU-only torch, interpreter version, limits).
"""
from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auditor.newsyntax import FSTRING_STANDIN, downgrade
from auditor.verify.code import ScriptCode
from auditor.verify.context import Context, at_line
from auditor.verify.folder import FolderLayout
from auditor.verify.sandbox import SandboxResult, run_sandboxed, scratch_copy
from reports.model import Finding

CHILD = Path(__file__).with_name("smoke_child.py")
MARKER = "PGOLF_SMOKE_RESULT "
TIMEOUT_S = 120.0
MEMORY_BYTES = 8 * 1024 ** 3
_AUTHOR_ERRORS = ("SyntaxError", "IndentationError", "TabError", "NameError", "UnboundLocalError",
                  "TypeError", "ValueError", "KeyError", "IndexError", "ZeroDivisionError", "AssertionError",
                  "AttributeError", "FileNotFoundError", "RecursionError")
_HARNESS_HINTS = ("cuda", "nccl", "nvidia", "gpu", "not compiled with", "triton", "stand-in", "torch._C",
                  "libcuda", "cudnn", "device-side", "no kernel image", "torch.distributed")


@dataclass(frozen=True)
class SmokeResult:
    status: str  # ok | author_error | harness_error | timeout | skipped
    summary: str
    import_s: float | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    params: int | None = None
    params_note: str = ""
    code_bytes: int | None = None
    stubs: tuple[str, ...] = ()
    error: dict[str, Any] | None = None
    isolation: str = ""
    wall_s: float | None = None
    script: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "summary": self.summary, "import_s": self.import_s,
                "hparams": self.hparams, "params": self.params, "params_note": self.params_note,
                "code_bytes": self.code_bytes, "stand_ins": list(self.stubs), "error": self.error,
                "isolation": self.isolation, "wall_s": self.wall_s}

    def findings(self, ctx: Context) -> list[Finding]:
        """SUB-SMOKE-001, only for failures in the submitted code (never for harness failures).

        Source: README (the script must run from inside the records folder)."""
        if self.status != "author_error" or self.error is None:
            return []
        line = int(self.error.get("line") or 1)
        return [ctx.finding("SUB-SMOKE-001", self.summary, at_line(self.script, line, ""))]


def _shape(hp: dict[str, Any], params: int | None, code_bytes: int | None) -> str:
    parts = []
    if "dim" in hp:
        parts.append(f"dim {hp['dim']:g}")
    if "layers" in hp:
        parts.append(f"{hp['layers']:g} layers")
    if "vocab" in hp:
        parts.append(f"vocab {hp['vocab']:g}")
    if params is not None:
        parts.append(f"{params / 1e6:.1f} M params")
    if code_bytes is not None:
        parts.append(f"code {code_bytes:,} B")
    return " · ".join(parts)


def _attribute(data: dict[str, Any], script_name: str) -> tuple[str, str]:
    """('author'|'harness', why) for a failed import."""
    etype, message = str(data.get("error_type", "")), str(data.get("message", ""))
    low = message.lower()
    frames = data.get("frames") or []
    innermost = frames[-1] if frames else {}
    if etype in ("ModuleNotFoundError", "ImportError"):
        missing = str(data.get("missing") or "")
        if missing.split(".")[0] == "torch":
            return "harness", "torch (or this part of it) is not importable in the smoke environment"
        return "harness", (f"module {missing or message!r} is not installed in the smoke environment "
                           f"(if it is a helper file missing from the folder, SIZE-002/SUB-002 apply)")
    if etype == "SyntaxError" and "f-string" in low and sys.version_info < (3, 12):
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return "harness", f"the sandbox's Python {version} cannot parse Python 3.12 f-strings"
    if data.get("stand_in_involved") or any(h in low for h in _HARNESS_HINTS) or \
            str(innermost.get("file", "")).endswith(CHILD.name):
        return "harness", "a CUDA-only module or device is needed (stand-ins and CPU torch cannot run it)"
    if etype in ("MemoryError",):
        return "harness", "the sandbox memory limit was reached"
    if etype in _AUTHOR_ERRORS and innermost.get("in_submission"):
        return "author", f"{etype} raised by {script_name} line {innermost.get('line')}"
    return "harness", f"{etype} outside the submission's own code"


def _interpret(res: SandboxResult, script: Path, code_bytes: int, timeout_s: float) -> SmokeResult:
    base = SmokeResult("", "", isolation=res.isolation, wall_s=round(res.wall_s, 3), code_bytes=code_bytes,
                       script=script.name)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith(MARKER)]
    if res.timed_out:
        return replace(base, status="timeout",
                       summary=f"import did not finish within {timeout_s:.0f} s (killed); inconclusive")
    if not lines:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1][:200]
        why = res.ending
        return replace(base, status="harness_error", summary=f"sandbox child ended without a result ({why}: {tail})")
    data = json.loads(lines[-1][len(MARKER):])
    stubs = tuple(dict.fromkeys(str(s).split(".")[0] for s in data.get("stubs", ())))
    if data.get("ok"):
        hp = data.get("hparams") or {}
        shape = _shape(hp, data.get("params"), code_bytes)
        summary = f"import OK in {data['import_s']:.2f} s" + (f" · {shape}" if shape else "")
        return replace(base, status="ok", summary=summary, import_s=data["import_s"], hparams=hp,
                       params=data.get("params"), params_note=data.get("params_note", ""), stubs=stubs)
    who, why = _attribute(data, script.name)
    frames = data.get("frames") or []
    own = [f for f in frames if f.get("in_submission")]
    error = {"type": data.get("error_type"), "message": data.get("message"), "attribution": who, "reason": why,
             "line": own[-1]["line"] if own else None, "frames": frames}
    label = "submission error" if who == "author" else "harness limitation, not the submission's fault"
    return replace(base, status="author_error" if who == "author" else "harness_error",
                   summary=f"import failed ({label}): {data.get('error_type')}: {str(data.get('message'))[:160]} "
                           f"— {why}",
                   import_s=data.get("import_s"), stubs=stubs, error=error)


def smoke_test(layout: FolderLayout, code: ScriptCode | None, env: dict[str, str] | None = None,
               timeout_s: float = TIMEOUT_S, mem_bytes: int = MEMORY_BYTES) -> SmokeResult:
    """Import the folder's script in the sandbox with the run command's environment (`env`, e.g.
    NUM_LAYERS=11 from the README) so the hyperparameters read are those of the logged runs.
    Never raises for anything the script does."""
    if code is None:
        return SmokeResult("skipped", "no training script to import")
    code_bytes = code.path.stat().st_size
    result = _run(layout, code, env or {}, timeout_s, mem_bytes, code_bytes)
    if env and result.status == "author_error":
        bare = _run(layout, code, {}, timeout_s, mem_bytes, code_bytes)
        if bare.status == "ok":  # the documented environment, not the code, broke the import
            note = f"; with the run command's environment ({', '.join(sorted(env))}) it failed: {result.summary}"
            return replace(bare, summary=bare.summary + note)
    return result


def _run(layout: FolderLayout, code: ScriptCode, env: dict[str, str], timeout_s: float, mem_bytes: int,
         code_bytes: int) -> SmokeResult:
    with tempfile.TemporaryDirectory(prefix="pgolf-smoke-") as tmp:
        scratch = Path(tmp) / layout.name
        scratch_copy(layout.root, scratch)
        script = scratch / layout.rel(code.path)
        # a self-extracting wrapper runs its payload: that is the text a newer grammar may need rewriting
        rewritten = _for_this_python(code.payload if code.payload is not None
                                     else script.read_text(encoding="utf-8", errors="replace"))
        argv = [sys.executable, "-s", "-B", str(CHILD), str(script)]
        if rewritten is not None:   # the scratch copy only: the folder is never written
            script.write_text(rewritten, encoding="utf-8")
            argv.append(FSTRING_STANDIN)
        res = run_sandboxed(argv, cwd=scratch, timeout_s=timeout_s, mem_bytes=mem_bytes,
                            env={**env, "PYTHONHASHSEED": "0"})
        result = _interpret(res, script, code_bytes, timeout_s)
    if rewritten is None:
        return result
    note = (f" (its Python 3.12 f-strings were rewritten to import on Python "
            f"{sys.version_info[0]}.{sys.version_info[1]})")
    if result.status == "author_error":   # the rewrite only approximates f-strings: never the author's fault
        return replace(result, status="harness_error", summary=result.summary + note)
    return replace(result, summary=result.summary + note)


def _for_this_python(text: str) -> str | None:
    """The script with newer-grammar f-strings rewritten (auditor.newsyntax) when they alone keep this
    Python from compiling it; None when it compiles as it is, or the rewrite does not help."""
    try:
        compile(text, "<submission>", "exec")
        return None
    except (SyntaxError, ValueError):
        pass
    new = downgrade(text)
    if new is None:
        return None
    try:
        compile(new, "<submission>", "exec")
    except (SyntaxError, ValueError):
        return None
    return new
