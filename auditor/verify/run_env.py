"""The environment a records folder was run with, as far as its README and logs show it.

Used by the static auditor to decide which feature flags were on: `SEED=7 TARGET_MB=15.9 torchrun ...`
gives {"TARGET_MB": "15.9"}. Sources, first wins: assignments before the launcher in README command
lines (and `export` lines), the `Running:` command a log echoes, `NAME=value` lines printed in logs,
then hyperparameters printed in a log whose upper-cased name the script reads from the environment.
SEED and RUN_ID are per-run, not configuration, and are left out.
"""
from __future__ import annotations

import re

from auditor.verify.code import unwrap
from auditor.verify.evidence import Evidence

EXCLUDED = frozenset({"SEED", "RUN_ID"})
_LAUNCHER = re.compile(r"(?:^|[\s;&|(])(?:torchrun|python3?|bash|sh|accelerate|deepspeed|srun|uv)\b(?!=)")
_ASSIGN = re.compile(r"(?:^|(?<=\s))([A-Z][A-Z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s;&|`]*)")
_EXPORT = re.compile(r"^\s*export\s+(.+)$")


def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\r\n", " ").replace("\\\n", " ").splitlines()


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value


def env_from_text(text: str) -> dict[str, str]:
    """Assignments written before a launcher (`A=1 B=2 torchrun ...`) or on `export` lines."""
    env: dict[str, str] = {}
    for line in _logical_lines(text):
        line = line.strip().strip("`").strip()
        exported = _EXPORT.match(line)
        if exported:
            region = exported.group(1)
        else:
            launcher = _LAUNCHER.search(line)
            if launcher is None:
                continue
            region = line[:launcher.start() + 1]
        for name, value in _ASSIGN.findall(region):
            if name not in EXCLUDED:
                env.setdefault(name, _unquote(value))
    return env


def run_command(ev: Evidence) -> str | None:
    """The first launch command the README shows (a line with torchrun/python), else the one a log echoes."""
    for line in _logical_lines(ev.readme):
        line = " ".join(line.strip().strip("`").split())
        if re.search(r"\b(?:torchrun|torch\.distributed\.run)\b|\bpython3? \S*train\w*\.py", line):
            return line
    for log in sorted(ev.logs, key=lambda log: log.name):
        if log.run_command is not None:
            return str(log.run_command.value)
    return None


def _env_names_read(script: str) -> set[str]:
    return set(re.findall(r"""(?:environ(?:\.get)?\s*[(\[]\s*|getenv\s*\(\s*)["']([A-Z][A-Z0-9_]*)["']""", script))


def env_from_evidence(ev: Evidence, *, include_hparams: bool = True) -> dict[str, str]:
    """The folder's run environment; `include_hparams=False` keeps only what commands and logs
    state as NAME=value (hyperparameter dumps print values like "True" that scripts cannot parse)."""
    env: dict[str, str] = {}
    for name, value in env_from_text(ev.readme).items():
        env.setdefault(name, value)
    logs = sorted(ev.logs, key=lambda log: log.name)
    for log in logs:
        if log.run_command is not None:
            for name, value in env_from_text(str(log.run_command.value)).items():
                env.setdefault(name, value)
    for log in logs:
        for name, value in log.env.items():
            if name not in EXCLUDED:
                env.setdefault(name, value)
    if not include_hparams:
        return env
    script = ev.script or ""
    read = _env_names_read(unwrap(script) or script)
    for log in logs:
        for key, value in log.hparams.items():
            name = key.upper()
            if name in read and name not in EXCLUDED:
                env.setdefault(name, value)
    return env
