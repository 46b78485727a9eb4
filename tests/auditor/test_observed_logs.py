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


def test_a_branch_counts_as_run_only_by_what_it_alone_prints(tmp_path: Path) -> None:
    """`val_bpb:` printed by the branch and elsewhere in the same function proves nothing about the branch."""
    script = SCRIPT.replace('        print("slot_lr=0.01 per-window deltas")',
                            '        print(f"val_bpb:{1.0:.4f}")\n    print(f"val_bpb:{1.1:.4f}")')
    (tmp_path / "train_gpt.py").write_text(script, encoding="utf-8")
    (tmp_path / "train_seed1.log").write_text("val_bpb:1.1000\n", encoding="utf-8")
    assert audit_path(tmp_path, verify=False).notes == []


def test_the_script_embedded_in_a_log_is_not_output(tmp_path: Path) -> None:
    """Record logs start with the script's own source: its literals are not lines the run printed."""
    (tmp_path / "train_gpt.py").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "train_seed1.log").write_text(SCRIPT + "=" * 100 + "\nstep:1/10 train_loss:9.0\n", encoding="utf-8")
    assert audit_path(tmp_path, verify=False).notes == []
