"""Everything the record checks read, computed once per folder: the layout, submission.json, every
parsed log, and one `SeedRun` per seed with the official score line chosen as LOG_FORMATS.md §6
describes (match submission.json's per-seed claim, else its headline, else TTT > sliding > roundtrip)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.verify.folder import FolderLayout
from auditor.verify.log_grammar import metric_class
from auditor.verify.log_parse import MAX_LOG_BYTES, LogText, decimal_places, load_log
from auditor.verify.log_record import LogRecord, Metric
from auditor.verify.submission import Submission, load_submission
from rules import load_rules

MAX_TEXT_BYTES = 4 * 1024 * 1024


def decimals_of(value: float) -> int:
    """Decimals a number was written with (shortest repr), e.g. 1.12676 -> 5."""
    text = repr(float(value))
    if "e" in text or "inf" in text or "nan" in text:
        return 10
    return decimal_places(text)


def same_number(a: float, b: float, dec_a: int, dec_b: int) -> bool:
    """Equal up to the coarser of the two printed precisions (half a unit in the last place), and
    never stricter than the challenge's `metric_match_tolerance` (rules/challenge.yaml, SUB-007)."""
    floor = float(load_rules().limit("metric_match_tolerance"))
    tol = max(floor, 0.5 * 10.0 ** -min(dec_a, dec_b)) + 1e-12
    return abs(a - b) <= tol


@dataclass(frozen=True)
class SeedRun:
    """One seed: the log that carries its score, the score line, and the log that shows training."""

    seed: int
    log: LogRecord
    metric: Metric | None
    train: LogRecord
    duplicates: tuple[LogRecord, ...]
    claim: float | None  # submission.json's per-seed val_bpb, when given
    claim_matched: bool | None


@dataclass(frozen=True)
class Evidence:
    layout: FolderLayout
    submission: Submission
    readme: str
    script: str | None
    logs: tuple[LogRecord, ...]
    unreadable: tuple[tuple[str, LogText], ...]
    runs: tuple[SeedRun, ...]
    unseeded: tuple[LogRecord, ...]

    def file(self, path: Path | None) -> str:
        return self.layout.rel(path) if path else ""

    def scores(self) -> list[tuple[SeedRun, Metric]]:
        """The seeds that have an official score, with that score's line."""
        return [(run, run.metric) for run in self.runs if run.metric is not None]


def read_text(path: Path | None, cap: int = MAX_TEXT_BYTES) -> str | None:
    """A text file's content (first `cap` bytes, undecodable bytes replaced), or None when unreadable."""
    if path is None:
        return None
    try:
        with path.open("rb") as fh:
            return fh.read(cap).decode("utf-8", errors="replace")
    except OSError:
        return None


def family(label: str) -> str:
    """Metric family: the label without its `_exact` marker ("final_x_exact" and "final_x" agree)."""
    return label.replace("_exact", "")


def _best(metrics: list[Metric]) -> Metric | None:
    return max(metrics, key=lambda m: (m.rank, m.decimals >= 6, m.line), default=None)


def _pick(log: LogRecord, claim: float | None, fam: str | None) -> tuple[Metric | None, bool | None]:
    """The log's score line: the one equal to the claim when there is one, else the best official
    line (of family `fam` when given). The flag says whether the claim was matched (None: no claim)."""
    officials = log.official_metrics()
    if fam is not None:
        officials = [m for m in officials if family(m.label) == fam] or officials
    if claim is None:
        return _best(officials), None
    hits = [m for m in officials if same_number(m.val_bpb, claim, m.decimals, decimals_of(claim))]
    return (max(hits, key=lambda m: (m.decimals, m.line)), True) if hits else (_best(officials), False)


def _seed_of(log: LogRecord) -> int | None:
    return log.seed.value if log.seed is not None else log.seed_from_name


def _headline_family(groups: dict[int, list[LogRecord]], headline: float | None) -> str | None:
    """The metric family whose per-seed values give the headline claim (as the mean or one seed)."""
    if headline is None or not groups:
        return None
    dec = decimals_of(headline)
    fams: dict[str, dict[int, float]] = {}
    for seed, logs in groups.items():
        for log in logs:
            for m in log.official_metrics():
                fams.setdefault(family(m.label), {})[seed] = m.val_bpb
    for fam in sorted(fams, key=metric_class, reverse=True):
        values = list(fams[fam].values())
        if len(values) != len(groups):
            continue
        mean = sum(values) / len(values)
        if same_number(mean, headline, 8, dec) or any(same_number(v, headline, 8, dec) for v in values):
            return fam
    return None


def _choose(seed: int, logs: list[LogRecord], claim: float | None, fam: str | None) -> SeedRun:
    scored = [(log, *_pick(log, claim, fam)) for log in logs]

    def key(item: tuple[LogRecord, Metric | None, bool | None]) -> tuple[bool, float, bool, bool, bool, int, str]:
        log, metric, matched = item
        closeness = -abs(metric.val_bpb - claim) if matched and metric and claim is not None else 0.0
        return (bool(matched), closeness, metric is not None, not log.eval_only, log.seed_from_name == seed,
                metric.rank if metric else 0, log.name)

    log, metric, matched = max(scored, key=key)
    train = log
    if log.stop is None and log.last_step is None:
        train = next((o for o in logs if o.stop is not None or o.last_step is not None), log)
    dups = tuple(o for o in logs if o is not log)
    return SeedRun(seed, log, metric, train, dups, claim, matched)


def gather(layout: FolderLayout, log_cap: int = MAX_LOG_BYTES) -> Evidence:
    """Read the folder once: submission.json, README, the script, and every log."""
    submission = load_submission(layout.submission)
    logs: list[LogRecord] = []
    unreadable: list[tuple[str, LogText]] = []
    for path in layout.logs:
        rec, lt = load_log(path, layout.rel(path), log_cap)
        if rec is None:
            unreadable.append((layout.rel(path), lt))
        else:
            logs.append(rec)
    train_logs = [log for log in logs if log.is_train_log]
    groups: dict[int, list[LogRecord]] = {}
    unseeded: list[LogRecord] = []
    for log in train_logs:
        seed = _seed_of(log)
        if seed is None and len(train_logs) == 1 and submission.seeds and len(submission.seeds) == 1:
            seed = submission.seeds[0]
        if seed is None:
            unseeded.append(log)
        else:
            groups.setdefault(seed, []).append(log)
    per_seed = {s: c.get("val_bpb") for s, c in submission.seed_claims.items()}
    if len(groups) == 1 and not any(v is not None for v in per_seed.values()) and submission.val_bpb is not None:
        per_seed = {next(iter(groups)): submission.val_bpb}  # one seed: the headline is its claim
    fam = None if any(v is not None for v in per_seed.values()) else _headline_family(groups, submission.val_bpb)
    runs = tuple(_choose(seed, groups[seed], per_seed.get(seed), fam) for seed in sorted(groups))
    return Evidence(
        layout=layout, submission=submission, readme=read_text(layout.readme) or "",
        script=read_text(layout.script), logs=tuple(logs), unreadable=tuple(unreadable), runs=runs,
        unseeded=tuple(unseeded),
    )
