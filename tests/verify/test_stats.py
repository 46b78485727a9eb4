"""Statistics as pure functions, the leaderboard's published p-values, and baselines."""
from __future__ import annotations

import math

import pytest

from auditor.verify import stats
from auditor.verify.significance import BaselineError, leaderboard_rows, resolve_baseline
from rules import load_rules
from tests.verify.conftest import CLEAN, ids


def _row(pr: int) -> dict:
    return next(r for r in leaderboard_rows() if r["pr"] == pr)


def _bpb(pr: int) -> list[float]:
    return [v["val_bpb"] for v in _row(pr)["seeds"].values()]


def test_mean_and_sample_std() -> None:
    assert stats.mean([1.0, 2.0, 3.0]) == 2.0
    assert stats.std([1.0, 2.0, 3.0]) == 1.0
    assert stats.std([5.0]) == 0.0
    assert stats.std([1.0, 3.0], ddof=0) == 1.0


@pytest.mark.parametrize(("new", "base", "published"), [(1514, 1493, "0.020"), (1769, 1736, "0.063")])
def test_leaderboard_p_values_are_reproduced(new: int, base: int, published: str) -> None:
    """README rows: #1514 beats #1493 at p=0.020, #1769 beats #1736 at p=0.063 (RULES.md STAT-002)."""
    w = stats.welch_one_sided(_bpb(new), _bpb(base))
    assert w is not None and w.t < 0
    assert f"{w.p_one_sided:.3f}" == published


def test_one_sided_p_is_large_when_worse_and_undefined_without_spread() -> None:
    worse = stats.welch_one_sided([1.20, 1.21, 1.22], [1.10, 1.11, 1.12])
    assert worse is not None and worse.p_one_sided > 0.99
    assert stats.welch_one_sided([1.1], [1.2, 1.3]) is None
    assert stats.welch_one_sided([1.1, 1.1], [1.1, 1.1]) is None


def test_delta_nats_per_token_or_per_byte() -> None:
    same_tok = stats.compare([1.00, 1.02], [1.10, 1.12], [2.00, 2.04], [2.20, 2.24])
    assert same_tok.nats_unit == "per token" and same_tok.delta_nats == pytest.approx(-0.20)
    other = stats.compare([1.00, 1.02], [1.10, 1.12])
    assert other.nats_unit == "per byte" and other.delta_nats == pytest.approx(-0.10 * math.log(2))
    assert other.margin_holds(0.005) and not stats.compare([1.10], [1.101]).margin_holds(0.005)


def test_leaderboard_rows_hold_pr_folder_and_per_seed_values() -> None:
    rows = leaderboard_rows()
    assert len({r["folder"] for r in rows}) == len(rows)
    for row in rows:
        assert row["seeds"] and all({"val_bpb", "val_loss"} <= set(v) for v in row["seeds"].values())
    assert _row(1855)["folder"] == "2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611"


def test_baseline_forms() -> None:
    rules = load_rules()
    assert resolve_baseline("1.10, 1.11;1.12", rules).bpb == (1.10, 1.11, 1.12)
    row = resolve_baseline("#1493", rules)
    assert row.bpb == tuple(_bpb(1493)) and row.loss is not None and row.tokenizer == "sp8192"
    assert resolve_baseline("PR1493", rules).label == row.label
    assert resolve_baseline("2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT", rules).bpb == row.bpb
    folder = resolve_baseline(str(CLEAN), rules)
    assert len(folder.bpb) == 3 and folder.tokenizer == "sp1024"
    with pytest.raises(BaselineError):
        resolve_baseline("no-such-row", rules)


def test_significance_findings_both_ways(verify) -> None:  # type: ignore[no-untyped-def]
    close = verify(CLEAN, baseline="1.1302,1.1300,1.1304")
    assert {"STAT-001", "STAT-002"} <= ids(close)
    clear = verify(CLEAN, baseline="1.20,1.21,1.19")
    assert not {"STAT-001", "STAT-002"} & ids(clear)
    st = clear.block["stats"]
    assert st["p_one_sided"] < 0.01 and st["delta_bpb"] < 0 and st["margin_holds"] and st["nats_unit"] == "per byte"
    same = verify(CLEAN, baseline=str(CLEAN)).block["stats"]
    assert same["nats_unit"] == "per token" and same["delta_bpb"] == 0.0


def test_identical_baseline_values_are_no_test_and_no_warning() -> None:
    import warnings as w

    from auditor.verify.stats import welch_one_sided
    with w.catch_warnings():
        w.simplefilter("error")
        assert welch_one_sided([1.12, 1.121, 1.119], [1.13, 1.13, 1.13]) is not None
        assert welch_one_sided([1.13, 1.13, 1.13], [1.13, 1.13, 1.13]) is None
