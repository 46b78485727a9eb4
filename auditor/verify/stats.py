"""Statistics of per-seed scores, as pure functions (RULES.md STAT-001, STAT-002).

Lower BPB is better. The one-sided Welch test asks whether the new seeds' mean is below the
baseline's: t, p2 = scipy.stats.ttest_ind(new, base, equal_var=False);
p_one_sided = p2/2 if t < 0 else 1 - p2/2 (the leaderboard's "p<0.25 progression", #1902).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass


LN2 = math.log(2.0)


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def std(values: Sequence[float], ddof: int = 1) -> float:
    """Sample standard deviation (ddof=1, as records report it); 0.0 for a single value."""
    n = len(values)
    if n <= ddof:
        return 0.0
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - ddof))


@dataclass(frozen=True)
class Welch:
    t: float
    df: float
    p_two_sided: float
    p_one_sided: float  # probability of a mean this low or lower if the new run were no better


def welch_one_sided(new: Sequence[float], base: Sequence[float]) -> Welch | None:
    """One-sided Welch t-test that `new` has a lower mean than `base`; None when it is undefined
    (fewer than two values on a side, or no variance on either side)."""
    if len(new) < 2 or len(base) < 2:
        return None
    va, vb = std(new) ** 2 / len(new), std(base) ** 2 / len(base)
    scale = max(abs(v) for v in (*new, *base))
    if va + vb <= (1e-12 * scale) ** 2:   # identical values up to float rounding: no spread to test
        return None
    from scipy import stats as _scipy  # imported on use: loading SciPy costs seconds per process

    with warnings.catch_warnings():   # SciPy warns about precision on nearly identical inputs; p is reported
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _scipy.ttest_ind(list(new), list(base), equal_var=False)
    t, p2 = float(res.statistic), float(res.pvalue)
    df = (va + vb) ** 2 / (va ** 2 / (len(new) - 1) + vb ** 2 / (len(base) - 1))
    return Welch(t=t, df=df, p_two_sided=p2, p_one_sided=p2 / 2 if t < 0 else 1 - p2 / 2)


@dataclass(frozen=True)
class Comparison:
    """New seeds against a baseline. Deltas are new minus baseline: negative is an improvement."""

    n: int
    mean_bpb: float
    baseline_n: int
    baseline_mean_bpb: float
    delta_bpb: float
    delta_nats: float
    nats_unit: str  # "per token" (same tokenizer, val_loss) or "per byte" (dBPB x ln 2)
    welch: Welch | None

    @property
    def p_one_sided(self) -> float | None:
        return self.welch.p_one_sided if self.welch else None

    def significant(self, alpha: float) -> bool:
        return self.p_one_sided is not None and self.p_one_sided < alpha

    def margin_holds(self, margin_nats: float) -> bool:
        """The README's margin: at least `margin_nats` better than the baseline."""
        return -self.delta_nats >= margin_nats


def compare(new_bpb: Sequence[float], base_bpb: Sequence[float],
            new_loss: Sequence[float] | None = None, base_loss: Sequence[float] | None = None) -> Comparison:
    """Compare per-seed scores. Pass val_loss lists only when both runs share the tokenizer: then the
    nats delta is per token (mean val_loss difference); otherwise it is per byte (dBPB x ln 2)."""
    d_bpb = mean(new_bpb) - mean(base_bpb)
    if new_loss and base_loss:
        d_nats, unit = mean(new_loss) - mean(base_loss), "per token"
    else:
        d_nats, unit = d_bpb * LN2, "per byte"
    return Comparison(n=len(new_bpb), mean_bpb=mean(new_bpb), baseline_n=len(base_bpb),
                      baseline_mean_bpb=mean(base_bpb), delta_bpb=d_bpb, delta_nats=d_nats,
                      nats_unit=unit, welch=welch_one_sided(new_bpb, base_bpb))
