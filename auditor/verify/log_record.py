"""What one train log shows, as values (`LogRecord`), each fact with the line it came from."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Hit(Generic[T]):
    """A value read from a log line: the value, its 1-based line number and the line's text."""

    value: T
    line: int
    text: str


class Step(NamedTuple):
    step: int
    iters: int
    train_ms: float
    step_avg_ms: float | None  # printed by `step:` lines; None for minute-resolution lines


class Stop(NamedTuple):
    train_ms: int
    step: int | None
    iters: int | None


class Artifact(NamedTuple):
    bytes: int
    tag: str
    exact: bool  # False when only a size in MB was printed


class Tokenizer(NamedTuple):
    kind: str
    path: str | None
    vocab: int | None


@dataclass(frozen=True)
class Metric:
    """A `<label> val_loss:L val_bpb:B ...` line."""

    label: str
    role: str  # official | diagnostic | other (log_grammar.metric_role)
    rank: int  # 3 TTT, 2 sliding, 1 roundtrip
    val_loss: float
    val_bpb: float
    eval_ms: float | None
    decimals: int  # decimals printed for val_bpb (8 = exact line, 4 = rounded)
    line: int
    text: str


@dataclass(frozen=True)
class LogRecord:
    """Everything one log shows. Times in ms or s as named; None when the log does not say."""

    name: str  # path relative to the records folder
    lines_total: int
    lines_source: int
    unknown: tuple[tuple[int, str], ...]  # (line, text) no grammar pattern explains
    seeds_stated: tuple[Hit[int], ...]
    seed_from_name: int | None
    hparams: dict[str, str]
    env: dict[str, str]  # NAME=value lines printed in the log
    metrics: tuple[Metric, ...]
    last_step: Hit[Step] | None
    stop: Hit[Stop] | None
    eval_only: bool  # a continuation log that only evaluates a saved artifact
    gptq_reserve_ms: Hit[float] | None
    calibration: Hit[str] | None  # "train" | "selfgen" | "unknown": where GPTQ calibration data came from
    calibration_s: Hit[float] | None
    selfgen_s: Hit[float] | None
    post_gptq_total_s: Hit[float] | None
    artifact: Hit[Artifact] | None
    model_bytes: dict[str, int]  # compressed model bytes by tag
    code_bytes: Hit[int] | None  # plain `Code size:` (the running file)
    code_bytes_raw: Hit[int] | None
    code_bytes_compressed: Hit[int] | None
    total_eval_s: Hit[float] | None
    ttt_warmup_s: Hit[float] | None
    ngram_within_beta: Hit[float] | None
    ngram_precompute_s: Hit[float] | None
    world_size: Hit[int] | None
    gpus: tuple[Hit[tuple[int, str]], ...]  # nvidia-smi rows: (index, name)
    versions: dict[str, str]
    train_shards: Hit[int] | None
    val_tokens: Hit[int] | None
    dataset: str | None
    tokenizer: Hit[Tokenizer] | None
    byte_sidecar: bool
    model_params: int | None
    run_command: Hit[str] | None
    source: str | None  # the last embedded copy of the script, when the log has one
    source_line: int  # 1-based first line of that copy (0 when none)
    notes: tuple[str, ...] = field(default=())

    @property
    def seed(self) -> Hit[int] | None:
        """The first seed the log states (hyperparameter block, `seed:` line or one-line dump)."""
        return self.seeds_stated[0] if self.seeds_stated else None

    @property
    def is_train_log(self) -> bool:
        """True when the file shows a training run or a scored evaluation (not notes or a summary)."""
        return bool(self.metrics or self.stop or self.last_step or self.artifact)

    def official_metrics(self) -> list[Metric]:
        """Official final-metric lines with finite values (NaN/inf scores are no score)."""
        return [m for m in self.metrics
                if m.role == "official" and math.isfinite(m.val_bpb) and math.isfinite(m.val_loss)]

    @property
    def train_end_line(self) -> int:
        """The line where training ended (stop line, else last step line; 0 when none)."""
        if self.stop is not None:
            return self.stop.line
        return self.last_step.line if self.last_step is not None else 0

    @property
    def train_ms(self) -> float | None:
        """Training wallclock at the stop: the stop line, else the last step line's train_time."""
        if self.stop is not None:
            return float(self.stop.value.train_ms)
        return self.last_step.value.train_ms if self.last_step is not None else None

    @property
    def steps(self) -> int | None:
        if self.stop is not None and self.stop.value.step is not None:
            return self.stop.value.step
        return self.last_step.value.step if self.last_step is not None else None

    @property
    def step_avg_ms(self) -> float | None:
        """Average step time: printed by `step:` lines, else train time over steps."""
        if self.last_step is not None and self.last_step.value.step_avg_ms is not None:
            return self.last_step.value.step_avg_ms
        ms, steps = self.train_ms, self.steps
        return ms / steps if ms is not None and steps else None

    @property
    def counted_code(self) -> Hit[int] | None:
        """The code size the artifact total counts: the compressed size when printed, else the plain one."""
        return self.code_bytes_compressed or self.code_bytes

    @property
    def raw_code(self) -> Hit[int] | None:
        """The uncompressed code size: the raw size when printed, else the plain one."""
        return self.code_bytes_raw or self.code_bytes

    @property
    def reserve_ms(self) -> float | None:
        """Time reserved for GPTQ calibration: the hyperparameter (exact), else the log line
        (which prints 0.5 s as "0s")."""
        for key, scale in (("gptq_reserve_seconds", 1000.0), ("gptq_reserve_ms", 1.0)):
            raw = self.hparams.get(key)
            if raw is not None:
                try:
                    return float(raw) * scale
                except ValueError:
                    continue
        return self.gptq_reserve_ms.value if self.gptq_reserve_ms is not None else None
