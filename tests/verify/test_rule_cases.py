"""Every record rule, both ways: the clean fixture folders raise nothing, and one small edit of a
copy makes exactly the intended rule fire (other rules may fire alongside; we assert the intent)."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.verify.conftest import CLEAN, FIXTURES, NON_RECORD, PHASED, RECORD, edit, edit_logs, ids

Mutation = Callable[[Path], Path]


def _log(d: Path, seed: int) -> Path:
    return d / f"train_seed{seed}.log"


def _drop_lines(path: Path, *starts: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith(starts)), encoding="utf-8")


def _outside_track(d: Path) -> Path:
    dst = d.parent.parent.parent / "loose" / "three_seeds"
    shutil.move(str(d), dst)
    return dst


def _helper(d: Path) -> Path:
    (d / "ngram_helper.py").write_text("TABLE = list(range(4096))\n" * 40, encoding="utf-8")
    edit(d / "train_gpt.py", "import zstandard\n", "import zstandard\nimport ngram_helper\n")
    return d


def _selfgen(seconds: str) -> Mutation:
    def mutate(d: Path) -> Path:
        edit_logs(d, "peak memory allocated", f"gptq:generated 64 sequences in {seconds}s\npeak memory allocated")
        return d
    return mutate


def _rename(old: str, new: str) -> Mutation:
    def mutate(d: Path) -> Path:
        (d / old).rename(d / new)
        return d
    return mutate


def _sub(old: str, new: str) -> Mutation:
    def mutate(d: Path) -> Path:
        edit(d / "submission.json", old, new)
        return d
    return mutate


def _logs(old: str, new: str) -> Mutation:
    def mutate(d: Path) -> Path:
        edit_logs(d, old, new)
        return d
    return mutate


def _one_log(seed: int, old: str, new: str) -> Mutation:
    def mutate(d: Path) -> Path:
        edit(_log(d, seed), old, new)
        return d
    return mutate


def _readme(old: str, new: str) -> Mutation:
    def mutate(d: Path) -> Path:
        edit(d / "README.md", old, new)
        return d
    return mutate


def _unlink(*names: str) -> Mutation:
    def mutate(d: Path) -> Path:
        for name in names:
            (d / name).unlink()
        return d
    return mutate


def _drop(seed: int, *starts: str) -> Mutation:
    def mutate(d: Path) -> Path:
        _drop_lines(_log(d, seed), *starts)
        return d
    return mutate


def _no_hardware(d: Path) -> Path:
    edit(d / "submission.json", '  "hardware": "8xH100 80GB SXM",\n', "")
    for log in d.glob("*.log"):
        _drop_lines(log, "world_size:")
    return d


def _tokenizer_file(d: Path) -> Path:
    (d / "tokenizers").mkdir()
    (d / "tokenizers" / "fineweb_1024_bpe.model").write_bytes(b"\x0a" * 2048)
    return d


def _same(d: Path) -> Path:
    return d


CASES: list[tuple[str, Path, Mutation]] = [
    ("SUB-FOLDER-001", CLEAN, _outside_track),
    ("SUB-002", CLEAN, _unlink("submission.json")),
    ("SUB-NAME-001", CLEAN, _rename("train_gpt.py", "train_gpt_v2.py")),
    ("SUB-003", CLEAN, lambda d: (edit(d / "train_gpt.py", "def main() -> None:", "def main( -> None:"), d)[1]),
    ("SUB-004", CLEAN, _unlink("requirements.txt")),
    ("SUB-005", CLEAN, _rename("train_seed2.log", "train_seed9.log")),
    ("SUB-006", CLEAN, _sub('"val_bpb": 1.1301,', '"val_bpb": "1.1301",')),
    ("SUB-007", CLEAN, _sub('"val_bpb": 1.1301,\n      "artifact', '"val_bpb": 1.1999,\n      "artifact')),
    ("SUB-CLAIM-001", CLEAN, _readme("**val_bpb: 1.13010**", "**val_bpb: 1.12010**")),
    ("SIZE-001", CLEAN, _one_log(1, "int6+zstd: 15714832 bytes", "int6+zstd: 16000001 bytes")),
    ("SIZE-002", CLEAN, _helper),
    ("SIZE-003", PHASED, _logs("Code size (compressed): 1460 bytes", "Code size (compressed): 300 bytes")),
    ("SIZE-004", CLEAN, _tokenizer_file),
    ("SIZE-006", CLEAN, _drop(3, "Total submission size int6+zstd")),
    ("LOG-002", CLEAN, _one_log(2, "int6+zstd: 15701252 bytes", "int6+zstd: 15701999 bytes")),
    ("TIME-001", CLEAN, _one_log(1, "train_time:600061ms step:7100", "train_time:600400ms step:7100")),
    ("TIME-002", CLEAN, _readme("NUM_LAYERS=4 MODEL_DIM=64", "FORCE_STOP_STEP=7000 NUM_LAYERS=4 MODEL_DIM=64")),
    ("TIME-004", RECORD / "2026-03-24_calibration_after_clock", _same),
    ("TIME-GPTQ-001", PHASED, _logs("train_time: 592041ms", "train_time: 599041ms")),
    ("TIME-GPTQ-001", PHASED, _logs("GPTQ:collected 24 Hessians in 3.8s", "GPTQ:collected 24 Hessians in 3.8s\n"
                                    "wallclock:post_gptq total_elapsed:611.0s train_budget:600.0s")),
    ("TIME-005", CLEAN, _selfgen("590.0")),
    ("TIME-006", PHASED, _one_log(12, "total_eval_time:510.1s", "total_eval_time:640.2s")),
    ("TIME-HW-001", CLEAN, _logs("world_size:8 grad_accum_steps:1", "world_size:1 grad_accum_steps:8")),
    ("TIME-HW-002", CLEAN, _no_hardware),
    ("LOG-003", CLEAN, _drop(3, "step:", "stopping_early")),
    ("STAT-004", CLEAN, _unlink("train_seed3.log")),
    ("STAT-CONFIG-001", PHASED, _one_log(13, "  num_layers: 4", "  num_layers: 5")),
    ("STAT-MEAN-001", PHASED, _sub('"val_bpb_std": ', '"val_bpb_std": 0.01, "was": ')),
    ("STAT-MEAN-002", RECORD / "2026-03-22_best_seed_headline", _same),
    ("LOG-001", CLEAN, _drop(2, "final_")),
    ("LOG-SCORE-002", CLEAN, _one_log(1, "final_int6_sliding_window_exact val_loss:1.90784340 val_bpb:1.12995000",
                                      "final_int6_sliding_window_exact val_loss:1.90784340 val_bpb:1.12995000\n"
                                      "final_int6_sliding_window_exact val_loss:1.80001234 val_bpb:1.06600000")),
    ("LOG-SCORE-001", CLEAN, _drop(3, "final_int6_sliding")),
    ("STAT-UNITS-001", RECORD / "2026-03-22_gain_in_wrong_units", _same),
    ("DATA-001", CLEAN, _logs("tokens:62021632", "tokens:61000000")),
    ("DATA-002", PHASED, _logs("train_shards: 80", "train_shards: 1499")),
    ("DATA-004", PHASED, _one_log(11, "  val_doc_fraction: 1.0", "  val_doc_fraction: 0.5")),
    ("BPB-002", CLEAN, _logs("tokens:62021632", "tokens:72021632")),
    ("BPB-003", PHASED, _logs("  caseops_enabled: True", "  caseops_enabled: False")),
    ("LOG-005", CLEAN, _logs("Code size: 2487 bytes", "Code size: 2600 bytes")),
    ("LOG-READ-001", CLEAN, lambda d: (_log(d, 2).write_bytes(b"\x00\x01binary" * 100), d)[1]),
]


@pytest.mark.parametrize("folder", [CLEAN, PHASED, NON_RECORD / "2026-04-02_long_run_study"], ids=lambda p: p.name)
def test_clean_fixtures_raise_nothing(folder: Path, verify) -> None:  # type: ignore[no-untyped-def]
    outcome = verify(folder)
    assert outcome.findings == [], [f"{f.check}: {f.message}" for f in outcome.findings]


@pytest.mark.parametrize(("rule", "base", "mutate"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_on_its_case(rule: str, base: Path, mutate: Mutation, clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = mutate(clone(base))
    outcome = verify(folder)
    assert rule in ids(outcome), [f"{f.check}: {f.message}" for f in outcome.findings]
    finding = next(f for f in outcome.findings if f.check == rule)
    assert finding.message and finding.severity in ("violation", "review", "info")


def test_every_record_rule_has_a_case() -> None:
    from rules import load_rules
    record_rules = {rid for rid, r in load_rules().checks.items() if r.module.startswith("auditor.verify")}
    covered = {rule for rule, _, _ in CASES} | {"STAT-001", "STAT-002", "SUB-SMOKE-001"}
    assert record_rules == covered  # STAT-001/002: test_stats.py; SUB-SMOKE-001: test_smoke.py


NEAR_MISSES: list[tuple[str, Path, Mutation]] = [
    ("TIME-001", CLEAN, _one_log(1, "train_time:600061ms step:7100", "train_time:600160ms step:7100")),
    ("SIZE-001", CLEAN, _one_log(1, "int6+zstd: 15714832 bytes", "int6+zstd: 16000000 bytes")),
    ("TIME-005", CLEAN, _selfgen("198.3")),
    ("DATA-001", CLEAN, _logs("tokens:62021632", "tokens:61997056")),
    ("LOG-SCORE-002", CLEAN, _logs("final_int6_sliding_window_exact", "final_int6_sliding_window_exact")),  # rounded twin
]


@pytest.mark.parametrize(("rule", "base", "mutate"), NEAR_MISSES, ids=[c[0] for c in NEAR_MISSES])
def test_near_miss_does_not_fire(rule: str, base: Path, mutate: Mutation, clone, verify) -> None:  # type: ignore[no-untyped-def]
    outcome = verify(mutate(clone(base)))
    assert rule not in ids(outcome)


def test_fixture_tree_has_the_seed_thread_situations() -> None:
    names = {p.name for p in RECORD.iterdir()}
    assert {"2026-03-22_gain_in_wrong_units", "2026-03-23_slow_single_seed", "2026-03-22_oversize_two_seeds",
            "2026-03-22_best_seed_headline", "2026-03-24_calibration_after_clock"} <= names
    assert (FIXTURES / "hostile_logs").is_dir()


OVER_LIMIT = {"SIZE-001": "artifact_bytes", "TIME-001": "train_time_s", "TIME-006": "eval_time_s"}
LIMIT_CASES = [c for c in CASES + NEAR_MISSES if c[0] in OVER_LIMIT]


@pytest.mark.parametrize(("rule", "base", "mutate"), LIMIT_CASES,
                         ids=[f"{c[0]}-{'case' if c in CASES else 'near-miss'}" for c in LIMIT_CASES])
def test_seed_rows_mark_over_limit_as_the_rule_judges(rule: str, base: Path, mutate: Mutation, clone,  # type: ignore[no-untyped-def]
                                                      verify) -> None:
    """The per-seed table's "(over)" comes from the same test as the finding (TIME-001's step tolerance)."""
    outcome = verify(mutate(clone(base)))
    marked = any(OVER_LIMIT[rule] in s["over_limit"] for s in outcome.block["seeds"])
    assert marked == (rule in ids(outcome))


def test_hardware_stated_only_in_the_readme_is_named_with_its_line(clone, verify) -> None:  # type: ignore[no-untyped-def]
    outcome = verify(_no_hardware(clone(CLEAN)))
    (finding,) = [f for f in outcome.findings if f.check == "TIME-HW-002"]
    assert "only the README states '8xH100'" in finding.message
    assert [(e.file, e.line) for e in finding.evidence] == [("README.md", 3)]
