"""The one entry point: audit a file or records folder (and verify it, for a folder)."""
from __future__ import annotations

from pathlib import Path

from reports.model import AuditResult

from .engine import build_result
from .facts import compute_facts
from .source import load


def folder_env(folder: Path) -> dict[str, str]:
    """Environment of the run command in the folder's README or logs (empty when there is none)."""
    from .verify import run_command_env

    try:
        return run_command_env(folder)
    except Exception as exc:  # an unreadable README must not stop the static audit
        raise RuntimeError(f"{folder}: cannot read the run command: {exc}") from exc


def _run_context(sub) -> bool:
    """Whether the folder's README/logs describe how this script was run: always for a records folder,
    for a single file only when it sits in one (beside submission.json or train logs)."""
    if sub.is_folder:
        return True
    return (sub.root / "submission.json").exists() or any(sub.root.glob("*.log"))


def audit_path(path: Path, *, env: dict[str, str] | None = None, verify: bool = True, baseline: str | None = None,
               smoke: bool = False) -> AuditResult:
    """Static audit of `path`; for a records folder also the verifier's checks and block.

    The environment is the folder's run command (README/logs) overridden by `env`. Raises
    `source.InputError` for input that cannot be audited at all.
    """
    path = Path(path)
    sub = load(path)
    effective: dict[str, str] = {}
    applied_from_folder = False
    if _run_context(sub):
        effective.update(folder_env(sub.root))
        applied_from_folder = bool(effective)
    effective.update(env or {})
    facts = compute_facts(sub, effective)
    result = build_result(str(path), facts)
    if applied_from_folder:
        shown = " ".join(f"{k}={v}" for k, v in sorted(folder_env(sub.root).items()))
        result.notes.insert(0, f"environment from the folder's run command: {shown}")
    if verify and sub.is_folder:
        from .verify import verify_folder

        outcome = verify_folder(path, baseline=baseline, smoke=smoke)
        result.findings.extend(outcome.findings)
        result.verify = outcome.block
    return result
