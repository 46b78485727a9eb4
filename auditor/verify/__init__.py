"""Records-folder verification (project issue 3): files, submission.json, logs, size, time, seeds,
statistics, claims and a sandboxed smoke test of one `records/<track>/<date>_<name>/` folder.

Public API:
    verify_folder(folder, *, baseline=None, smoke=False, rules=None, evidence=None) -> VerifyOutcome
    run_command_env(folder) -> dict[str, str]
"""
from __future__ import annotations

from pathlib import Path

from auditor.verify.evidence import gather
from auditor.verify.folder import discover
from auditor.verify.pipeline import VerifyInputError, VerifyOutcome, verify_folder
from auditor.verify.run_env import env_from_evidence
from rules import load_rules

__all__ = ["VerifyInputError", "VerifyOutcome", "run_command_env", "verify_folder"]


def run_command_env(folder: Path) -> dict[str, str]:
    """Environment assignments of the folder's run command (README, then logs), and hyperparameters
    printed in logs whose upper-cased names the script reads from the environment. SEED and RUN_ID
    are excluded. Example: `SEED=7 TARGET_MB=15.9 torchrun ...` -> {"TARGET_MB": "15.9"}."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VerifyInputError(f"{folder}: not a directory")
    return env_from_evidence(gather(discover(folder, load_rules())))
