"""Log lines a switched-off branch prints turn its flag on (a branch whose output is in the logs did run),
but only a flag: a numeric setting read by the same kind of condition is never rewritten to "1"."""
from __future__ import annotations

from pathlib import Path

from auditor.api import audit_path

SCRIPT = '''import os


class Hyperparameters:
    eval_seq_len = int(os.environ.get("EVAL_SEQ_LEN", "2048"))
    slot_enabled = bool(int(os.environ.get("SLOT_ENABLED", "0")))


def main():
    args = Hyperparameters()
    if args.eval_seq_len > 4096:
        print(f"long_context_eval:enabled eval_seq_len={args.eval_seq_len}")
    if args.slot_enabled:
        print("slot_lr=0.01 per-window deltas")


if __name__ == "__main__":
    main()
'''


def test_logged_branch_switches_on_a_flag_but_not_a_number(tmp_path: Path) -> None:
    (tmp_path / "train_gpt.py").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "train_seed1.log").write_text("long_context_eval:enabled eval_seq_len=2048\n"
                                              "slot_lr=0.01 per-window deltas\n", encoding="utf-8")
    notes = audit_path(tmp_path, verify=False).notes
    assert notes == ["switched on because the logs print what their branches print: SLOT_ENABLED=1"]
