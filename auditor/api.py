"""The one entry point: audit a file or records folder (and verify it, for a folder)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from reports.model import AuditResult
from rules import load_rules

from .engine import build_result
from .facts import compute_facts
from .source import InputError, load, read_head
from .verify.evidence import Evidence, gather
from .verify.folder import discover


def folder_settings(folder: Path, evidence: Evidence) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(environment of the run command in README/logs, hyperparameters the logs printed, log texts by name),
    from the folder's `evidence` as the verifier reads it.

    The logs are those carrying each seed's score, as the verifier chooses them (a folder may keep
    superseded runs beside the scored ones); all logs when it finds no seed."""
    from .verify.log_parse import output_only
    from .verify.run_env import env_from_evidence

    logged: dict[str, str] = {}
    for log in sorted(evidence.logs, key=lambda log: log.name):
        for key, value in log.hparams.items():
            logged.setdefault(key, str(value))
    env = env_from_evidence(evidence, include_hparams=False)
    for key, value in documented_settings(folder).items():
        env.setdefault(key, value)
    scoring = {run.log.name for run in evidence.runs}
    logs = {name: output_only(text) for name, text in log_texts(folder).items()}   # embedded source printed nothing
    if scoring:  # the runs behind the claimed numbers, when the verifier could match them
        logs = {name: text for name, text in logs.items() if name in scoring}
    return env, logged, logs


LOG_TEXT_LIMIT = 4_000_000  # characters of each log searched for guarded log lines
_SETTING = re.compile(r"`([A-Z][A-Z0-9_]{2,})=([^`\s]*)`")


def log_texts(folder: Path) -> dict[str, str]:
    """The beginning of every log-like file in the folder (train logs are `*.log` / `*.txt`), by name."""
    out: dict[str, str] = {}
    for path in sorted(list(folder.glob("*.log")) + list(folder.glob("*.txt")) + list(folder.glob("logs/*"))):
        if path.is_file() and path.name not in ("requirements.txt",):
            out[str(path.relative_to(folder))] = read_head(path, LOG_TEXT_LIMIT)
    return out


def documented_settings(folder: Path) -> dict[str, str]:
    """Settings the folder states outside a run command: `KEY=VAL` in README code spans, and
    upper-case keys of a run configuration JSON (`config.json`)."""
    out: dict[str, str] = {}
    for key, value in _SETTING.findall(read_head(folder / "README.md", 1_000_000)):
        out.setdefault(key, value)
    for path in sorted(folder.glob("*.json")):
        if path.name == "submission.json" or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        try:
            data = json.loads(read_head(path, 1_000_000))
        except ValueError:
            continue
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(key, str) and key.isupper() and isinstance(value, (str, int, float, bool)):
                    out.setdefault(key, str(int(value)) if isinstance(value, bool) else str(value))
    return out


def audit_path(path: Path, *, env: dict[str, str] | None = None, verify: bool = True, baseline: str | None = None,
               smoke: bool = False) -> AuditResult:
    """Static audit of `path`; for a records folder also the verifier's checks and block.

    The environment is the folder's run command (README/logs) overridden by `env`. Raises
    `source.InputError` for input that cannot be audited at all.
    """
    path = Path(path)
    try:
        return _audit(path, env, verify, baseline, smoke)
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to analyze") from None


def _audit(path: Path, env: dict[str, str] | None, verify: bool, baseline: str | None, smoke: bool) -> AuditResult:
    sub = load(path)
    effective: dict[str, str] = {}
    logged: dict[str, str] = {}
    logs: dict[str, str] = {}
    evidence = None
    if sub.in_run_context:
        evidence = gather(discover(sub.root, load_rules()))  # read once: settings here, the verifier below
        command_env, logged, logs = folder_settings(sub.root, evidence)
        effective.update(command_env)
    folder_keys = set(effective)
    effective.update(env or {})
    facts = compute_facts(sub, effective, logged, logs)
    result = build_result(str(path), facts)
    from_folder = {k: v for k, v in facts.env.items()
                   if (k in folder_keys or k not in (env or {})) and k not in facts.switched_on}
    if facts.switched_on:
        result.notes.insert(0, "switched on because the logs print what their branches print: "
                               + " ".join(f"{k}=1" for k in facts.switched_on))
    if from_folder:
        shown = " ".join(f"{k}={v}" for k, v in sorted(from_folder.items()))
        result.notes.insert(0, f"environment from the folder's run command and logs: {shown}")
    if verify and sub.is_folder:
        from .verify import verify_folder

        outcome = verify_folder(path, baseline=baseline, smoke=smoke, evidence=evidence)
        result.findings.extend(outcome.findings)
        result.verify = outcome.block
    return result
