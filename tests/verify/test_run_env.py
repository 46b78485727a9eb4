"""run_command_env: the environment of the run command (README, logs) without SEED/RUN_ID."""
from __future__ import annotations

from pathlib import Path

from auditor.verify import run_command_env
from auditor.verify.run_env import env_from_text
from tests.verify.conftest import CLEAN, PHASED


def test_assignments_before_the_launcher() -> None:
    text = "SEED=7 TARGET_MB=15.9 torchrun --standalone --nproc_per_node=8 train_gpt.py\n"
    assert env_from_text(text) == {"TARGET_MB": "15.9"}


def test_continuations_exports_and_quotes() -> None:
    text = ('BACKOUT_ENABLED=0 MAX_WALLCLOCK_SECONDS=600 RUN_ID=v34 SEED=42 \\\n'
            'python3 -m torch.distributed.run --standalone --nproc_per_node=8 train_gpt.py\n'
            'export TTT_LR="0.005"\n'
            'Set FOO=1 in prose without a launcher\n'
            'torchrun train_gpt.py LATE=1\n')
    assert env_from_text(text) == {"BACKOUT_ENABLED": "0", "MAX_WALLCLOCK_SECONDS": "600", "TTT_LR": "0.005"}


def test_folder_env_from_readme_and_hparams_the_script_reads(tmp_path: Path) -> None:
    # README command first, then the logged `max_wallclock_seconds` (the script reads MAX_WALLCLOCK_SECONDS)
    assert run_command_env(CLEAN) == {"NUM_LAYERS": "4", "MODEL_DIM": "64", "MAX_WALLCLOCK_SECONDS": "600.000"}
    env = run_command_env(PHASED)
    assert env["TTT_ENABLED"] == "1" and env["GPTQ_RESERVE_SECONDS"] == "8.0"
    assert env["VOCAB_SIZE"] == "8192"  # printed hyperparameter whose env name the script reads
    assert "SEED" not in env and "RUN_ID" not in env and "CASEOPS_ENABLED" not in env


def test_log_env_lines_and_running_command(clone) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    (folder / "README.md").write_text("# no command here\n")
    log = folder / "train_seed1.log"
    log.write_text("Running: QK_GAIN_INIT=5.25 SEED=1 torchrun --nproc_per_node=8 train_gpt.py\n"
                   "NGRAM_WITHIN_BETA=0\n" + log.read_text())
    assert run_command_env(folder) == {"QK_GAIN_INIT": "5.25", "NGRAM_WITHIN_BETA": "0",
                                       "MAX_WALLCLOCK_SECONDS": "600.000"}
