"""Read one train log (capped, binary-safe) and turn it into a `LogRecord` of per-seed facts.

The line shapes live in `log_grammar`; this module only walks lines, skips embedded source and
keeps the facts the checks need, each with the line it came from (for evidence).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from auditor.verify import log_grammar as g

#: Logs larger than this are read as their first and last half of it (LOG-READ-001 says so). The
#: largest merged record log is 185 KB; a 60,000-step log is about 5 MB and keeps head and tail.
MAX_LOG_BYTES = 2 * 1024 * 1024
#: Lines longer than this are not matched (they are reported as unexplained).
MAX_LINE_CHARS = 4000
#: Seed in a log's file name, most specific first: train_seed42.log, run_s42.txt, train0.txt, log_7.txt.
_SEED_IN_NAME = (
    re.compile(r"seed[_-]?(\d{1,10})(?![A-Za-z\d])", re.I),
    re.compile(r"(?<![A-Za-z])s(\d{1,10})(?![A-Za-z\d])"),
    re.compile(r"(?:log|run|train)[_-]?(\d{1,10})(?![A-Za-z\d])", re.I),
)


@dataclass(frozen=True)
class Hit:
    """A value read from a log line: the value, its 1-based line number and the line's text."""

    value: object
    line: int
    text: str


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
class LogText:
    """What `read_log` got from disk."""

    text: str
    size: int
    truncated: bool  # larger than MAX_LOG_BYTES: head and tail were read
    binary: bool  # NUL bytes or mostly undecodable
    error: str = ""


@dataclass(frozen=True)
class LogRecord:
    """Everything one log shows. Times in ms/s as named; None when the log does not say."""

    name: str
    lines_total: int
    lines_source: int
    unknown: tuple[tuple[int, str], ...]
    seed: Hit | None
    seeds_stated: tuple[Hit, ...]
    seed_from_name: int | None
    hparams: dict[str, str]
    env: dict[str, str]
    metrics: tuple[Metric, ...]
    last_step: Hit | None  # value: (step, iters, train_ms, step_avg_ms)
    stop: Hit | None  # value: (train_ms, step, iters)
    eval_only: bool
    gptq_reserve_ms: Hit | None
    calibration: Hit | None  # value: "train" | "selfgen" | "unknown"
    calibration_s: Hit | None
    selfgen_s: Hit | None
    post_gptq_total_s: Hit | None
    artifact: Hit | None  # value: (bytes, tag, exact)
    model_bytes: dict[str, int]
    code_bytes: Hit | None  # plain `Code size:` (the running file)
    code_bytes_raw: Hit | None
    code_bytes_compressed: Hit | None
    total_eval_s: Hit | None
    ttt_warmup_s: Hit | None
    ngram_within_beta: Hit | None
    ngram_precompute_s: Hit | None
    world_size: Hit | None
    gpus: tuple[Hit, ...]
    versions: dict[str, str]
    train_shards: Hit | None
    val_tokens: Hit | None
    dataset: str | None
    tokenizer: Hit | None  # value: (kind, path, vocab)
    byte_sidecar: bool
    model_params: int | None
    run_command: Hit | None
    source: str | None  # the last embedded copy of the script, when the log has one
    source_line: int  # 1-based first line of that copy (0 when none)
    notes: tuple[str, ...] = field(default=())

    @property
    def is_train_log(self) -> bool:
        """True when the file shows a training run or a scored evaluation (not notes or a summary)."""
        return bool(self.metrics or self.stop or self.last_step or self.artifact)

    def official_metrics(self) -> list[Metric]:
        """Official final-metric lines with finite values (NaN/inf scores are no score)."""
        return [m for m in self.metrics if m.role == "official" and math.isfinite(m.val_bpb)
                and math.isfinite(m.val_loss)]

    @property
    def train_end_line(self) -> int:
        """The line where training ended (stop line, else last step line; 0 when none)."""
        if self.stop is not None:
            return self.stop.line
        return self.last_step.line if self.last_step is not None else 0

    @property
    def steps(self) -> int | None:
        if self.stop is not None and self.stop.value[1] is not None:  # type: ignore[index]
            return int(self.stop.value[1])  # type: ignore[index]
        return int(self.last_step.value[0]) if self.last_step is not None else None  # type: ignore[index]

    @property
    def step_avg_ms(self) -> float | None:
        """Average step time: printed by `step:` lines, else train time over steps."""
        if self.last_step is not None and self.last_step.value[3] is not None:  # type: ignore[index]
            return float(self.last_step.value[3])  # type: ignore[index]
        ms, steps = self.train_ms, self.steps
        return ms / steps if ms is not None and steps else None

    @property
    def reserve_ms(self) -> float | None:
        """Time reserved for GPTQ calibration: the hyperparameter (exact), else the log line."""
        for key, scale in (("gptq_reserve_seconds", 1000.0), ("gptq_reserve_ms", 1.0)):
            raw = self.hparams.get(key)
            if raw is not None:
                try:
                    return float(raw) * scale
                except ValueError:
                    pass
        return float(self.gptq_reserve_ms.value) if self.gptq_reserve_ms is not None else None  # type: ignore[arg-type]

    @property
    def train_ms(self) -> float | None:
        """Training wallclock at the stop: the stop line, else the last step line's train_time."""
        if self.stop is not None:
            return float(self.stop.value[0])  # type: ignore[index]
        if self.last_step is not None:
            return self.last_step.value[2]  # type: ignore[index]
        return None


def read_log(path: Path, cap: int = MAX_LOG_BYTES) -> LogText:
    """Read at most `cap` bytes (head and tail halves when larger); detect binary content."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size > cap:
                head = fh.read(cap // 2)
                fh.seek(max(size - cap // 2, cap // 2))
                raw = head + b"\n" + fh.read()
            else:
                raw = fh.read()
    except OSError as exc:
        return LogText("", 0, False, False, error=f"{type(exc).__name__}: {exc.strerror or exc}")
    sample = raw[:65536]
    text = raw.decode("utf-8", errors="replace")
    bad = text[:65536].count("\ufffd")
    binary = b"\x00" in sample or (len(sample) > 0 and bad > len(sample) // 20)
    return LogText(text, size, size > cap, binary)


def _seed_from_name(name: str) -> int | None:
    stem = Path(name).name
    for pattern in _SEED_IN_NAME:
        m = pattern.search(stem)
        if m:
            return int(m.group(1))
    return None


def _decimals(number: str) -> int:
    return len(number.split(".", 1)[1]) if "." in number else 0


def _source_ranges(lines: list[str]) -> list[tuple[int, int]]:
    """Half-open line ranges holding embedded script source (never matched against the grammar).

    A log may embed the script once or, when several runs were appended to one file, several
    times. Source runs from a line that can only start a Python file (`g.SOURCE_START`) or from a
    `Source code:` marker to the next separator line, provided it holds at least three
    unmistakably Python lines.
    """
    seps = [i for i, ln in enumerate(lines) if g.SEPARATOR.match(ln)] + [len(lines)]
    ranges: list[tuple[int, int]] = []
    start, k = 0, 0
    while k < len(seps):
        end = seps[k]
        seg = range(start, end)
        marker = next((i for i in seg if g.SOURCE_MARKER.match(lines[i])), None)
        if marker is not None:
            begin: int | None = marker + 1
            if begin == end and k + 1 < len(seps):  # "Source code:" / separator / source / separator
                begin, k = end + 1, k + 1
                end = seps[k]
        else:
            begin = next((i for i in seg if g.SOURCE_START.match(lines[i])), None)
            if begin is None and sum(1 for i in seg if g.PYTHON_LINE.match(lines[i])) >= 20:
                last_log = max((i for i in seg if g.LOG_LINE.match(lines[i])), default=start - 1)
                begin = last_log + 1
        if begin is not None and sum(1 for i in range(begin, end) if g.PYTHON_LINE.match(lines[i])) >= 3:
            ranges.append((begin, end))
        start, k = end + 1, k + 1
    return ranges


class _Builder:
    """Mutable state while walking one log; `build()` freezes it into a LogRecord."""

    def __init__(self, name: str, notes: list[str]) -> None:
        self.name = name
        self.notes = notes
        self.unknown: list[tuple[int, str]] = []
        self.seeds: list[Hit] = []
        self.hparams: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.metrics: list[Metric] = []
        self.hit: dict[str, Hit] = {}
        self.model_bytes: dict[str, int] = {}
        self.gpus: list[Hit] = []
        self.versions: dict[str, str] = {}
        self.eval_only = False
        self.byte_sidecar = False
        self.dataset: str | None = None
        self.model_params: int | None = None

    def put(self, key: str, value: object, line: int, text: str, *, first: bool = False) -> None:
        if first and key in self.hit:
            return
        self.hit[key] = Hit(value, line, text)

    def on_match(self, name: str, m: re.Match[str], line: int, text: str) -> None:  # noqa: C901
        gd = m.groupdict()
        if name == "step":
            ms, avg = float(gd["ms"]), float(gd["avg"])
            self.put("last_step", (int(gd["step"]), int(gd["iters"]), ms, avg), line, text)
        elif name == "step_minutes":
            step = int(gd["step"])
            self.put("last_step", (step, int(gd["iters"]), float(gd["min"]) * 60000.0, None), line, text)
        elif name == "val_step":
            prev = self.hit.get("last_step")
            step, ms = int(gd["step"]), float(gd["ms"])
            avg = float(gd["avg"]) if gd.get("avg") else (prev.value[3] if prev else None)  # type: ignore[index]
            if step > 0:
                self.put("last_step", (step, int(gd["iters"]), ms, avg), line, text)
        elif name == "stop":
            iters = int(gd["iters"]) if gd.get("iters") else None
            step = int(gd["step"]) if gd.get("step") else None
            self.put("stop", (int(gd["ms"]), step, iters), line, text)
        elif name in ("metric", "metric_stride_first"):
            self._metric(gd, line, text)
        elif name == "mb_total":
            if "artifact" not in self.hit:
                self.put("artifact", (round(float(gd["mb"]) * 1e6), gd["tag"], False), line, text)
        elif name in ("total_tagged", "model_code_total", "budget_total", "pipe_artifact_total"):
            self.put("artifact", (int(gd["bytes"]), gd.get("tag") or name, True), line, text)
            if name == "model_code_total":
                self.model_bytes["model"] = int(gd["model"])
                self.put("code_bytes", int(gd["code"]), line, text)
        elif name == "artifact_lowbit":
            if "artifact" not in self.hit or not self.hit["artifact"].value[2]:  # type: ignore[index]
                self.put("artifact", (round(float(gd["mb"]) * 1e6), gd["kind"], False), line, text)
            self.put("code_bytes", int(gd["code"]), line, text)
        elif name == "total_raw":
            total, code = int(gd["bytes"]), self.hit.get("code_bytes")
            tag = next((t for t, b in self.model_bytes.items() if code is not None and b + code.value == total), None)
            if tag is not None:  # an untagged total that adds a compressed model to the code
                self.put("artifact", (total, tag, True), line, text)
        elif name == "serialized_tagged":
            self.model_bytes[gd["tag"]] = int(gd["bytes"])
        elif name == "code_size":
            self.put("code_bytes", int(gd["bytes"]), line, text)
        elif name == "code_size_raw":
            self.put("code_bytes_raw", int(gd["bytes"]), line, text)
        elif name == "code_size_compressed":
            self.put("code_bytes_compressed", int(gd["bytes"]), line, text)
        elif name == "gptq_reserve_s":
            self.put("gptq_reserve_ms", float(gd["s"]) * 1000.0, line, text)
        elif name == "gptq_reserve_ms":
            self.put("gptq_reserve_ms", float(gd["res"]), line, text)
        elif name in ("hessians_train_start", "gptq_collected_plain", "gptq_calibrating"):
            kind = "unknown" if name == "gptq_calibrating" and not gd.get("train") else "train"
            self._calibration(kind, line, text)
        elif name in ("hessians_train_done", "gptq_calibrated"):
            self.put("calibration_s", float(gd["s"]), line, text)
            self._calibration("train", line, text)
        elif name in ("gptq_selfgen_start", "gptq_selfgen_hessians"):
            self.put("calibration", "selfgen", line, text)
        elif name == "gptq_selfgen_done":
            self.put("selfgen_s", float(gd["s"]), line, text)
            self.put("calibration", "selfgen", line, text)
        elif name == "post_gptq_total":
            self.put("post_gptq_total_s", float(gd["s"]), line, text)
        elif name == "total_eval_time":
            self.put("total_eval_s", float(gd["s"]), line, text)
        elif name == "ttt_warmup_done":
            self.put("ttt_warmup_s", float(gd["s"]), line, text)
        elif name == "eval_only":
            self.eval_only = True
        elif name == "ngram_tilt":
            self.put("ngram_within_beta", float(gd["within"]), line, text)
            if gd.get("s"):
                self.put("ngram_precompute_s", float(gd["s"]), line, text)
        elif name == "tokenizer":
            vocab = int(gd["vocab"]) if gd.get("vocab") else None
            self.put("tokenizer", (gd["kind"], gd.get("path"), vocab), line, text)
        elif name == "byte_sidecar":
            self.byte_sidecar = True
        elif name == "train_loader":
            self.dataset = gd["dataset"]
            self.put("train_shards", int(gd["shards"]), line, text)
        elif name == "train_shards":
            self.put("train_shards", int(gd["shards"]), line, text)
        elif name in ("val_loader", "val_tokens"):
            self.put("val_tokens", int(gd["tokens"]), line, text)
        elif name == "seed":
            self.seeds.append(Hit(int(gd["seed"]), line, text))
        elif name == "compact_header":
            self.seeds.append(Hit(int(gd["seed"]), line, text))
            self.put("world_size", int(gd["ws"]), line, text)
            self.model_params = int(gd["params"])
            self.hparams.setdefault("num_layers", gd["layers"])
            self.hparams.setdefault("model_dim", gd["dim"])
        elif name == "model_params":
            self.model_params = int(gd["n"])
        elif name == "world_size":
            self.put("world_size", int(gd["ws"]), line, text)
        elif name == "batch_config":
            self.hparams.setdefault("iterations", gd["it"])
            self.hparams.setdefault("max_wallclock_seconds", gd["mw"])
        elif name == "run_command":
            self.put("run_command", gd["cmd"], line, text, first=True)
        elif name in ("python_version", "torch_version"):
            self.versions[name.split("_")[0]] = gd["ver"]
        elif name == "gpu_row":
            self.gpus.append(Hit((int(gd["idx"]), gd["name"].strip()), line, text))
        elif name == "env_assignment":
            self.env[gd["key"]] = gd["val"]
        elif name == "kv_dump":
            for token in text.split():
                key, _, val = token.partition("=")
                self.hparams.setdefault(key, val)
                if key == "seed" and val.isdigit():
                    self.seeds.append(Hit(int(val), line, text))

    def _calibration(self, kind: str, line: int, text: str) -> None:
        """The first calibration line decides where it starts; a later line may only make
        an 'unknown' source specific (`gptq:calibrating ...` then `collected hessians`)."""
        known = self.hit.get("calibration")
        if known is None:
            self.put("calibration", kind, line, text)
        elif known.value == "unknown" and kind != "unknown":
            self.put("calibration", kind, known.line, known.text)

    def _metric(self, gd: dict[str, str | None], line: int, text: str) -> None:
        label = (gd["label"] or "").strip()
        tail = gd.get("tail") or ""
        em = re.search(r"(?:eval_time|time):(\d+(?:\.\d+)?)ms", tail)
        bpb_s = gd["bpb"] or "nan"
        self.metrics.append(Metric(
            label=label, role=g.metric_role(label), rank=g.metric_class(label),
            val_loss=float(gd["loss"] or "nan"), val_bpb=float(bpb_s),
            eval_ms=float(em.group(1)) if em else None, decimals=_decimals(bpb_s), line=line, text=text,
        ))

    def build(self, lines_total: int, lines_source: int, source: str | None, source_line: int) -> LogRecord:
        seed = self.seeds[0] if self.seeds else None
        h = self.hit.get
        return LogRecord(
            name=self.name, lines_total=lines_total, lines_source=lines_source, unknown=tuple(self.unknown),
            seed=seed, seeds_stated=tuple(self.seeds), seed_from_name=_seed_from_name(self.name),
            hparams=self.hparams, env=self.env, metrics=tuple(self.metrics),
            last_step=h("last_step"), stop=h("stop"), eval_only=self.eval_only,
            gptq_reserve_ms=h("gptq_reserve_ms"), calibration=h("calibration"), calibration_s=h("calibration_s"),
            selfgen_s=h("selfgen_s"), post_gptq_total_s=h("post_gptq_total_s"), artifact=h("artifact"),
            model_bytes=self.model_bytes, code_bytes=h("code_bytes"), code_bytes_raw=h("code_bytes_raw"),
            code_bytes_compressed=h("code_bytes_compressed"), total_eval_s=h("total_eval_s"),
            ttt_warmup_s=h("ttt_warmup_s"), ngram_within_beta=h("ngram_within_beta"), ngram_precompute_s=h("ngram_precompute_s"),
            world_size=h("world_size"), gpus=tuple(self.gpus), versions=self.versions,
            train_shards=h("train_shards"), val_tokens=h("val_tokens"), dataset=self.dataset,
            tokenizer=h("tokenizer"), byte_sidecar=self.byte_sidecar, model_params=self.model_params,
            run_command=h("run_command"), source=source, source_line=source_line, notes=tuple(self.notes),
        )


def parse_log(text: str, name: str, notes: tuple[str, ...] = ()) -> LogRecord:
    """Parse a log's text. `name` is the log's path relative to the folder (used for evidence)."""
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    lines = [g.TIMESTAMP_PREFIX.sub("", ln, count=1) for ln in raw_lines]
    ranges = _source_ranges(lines)
    in_source = bytearray(len(lines))
    for start, end in ranges:
        in_source[start:end] = b"\x01" * (end - start)
    source = "\n".join(lines[ranges[-1][0]:ranges[-1][1]]) + "\n" if ranges else None
    b = _Builder(name, list(notes))
    in_hparams = False
    for i, text_line in enumerate(lines):
        if in_source[i]:
            continue
        lineno = i + 1
        if in_hparams:
            hm = g.HPARAM_ITEM.match(text_line)
            if hm:
                key, val = hm.group("key"), hm.group("val").strip()
                b.hparams[key] = val
                if key == "seed" and val.isdigit():
                    b.seeds.append(Hit(int(val), lineno, text_line))
                elif key == "world_size" and val.isdigit():
                    b.put("world_size", int(val), lineno, text_line)
                continue
            in_hparams = False
        if g.HPARAM_HEADER.match(text_line):
            in_hparams = True
            continue
        if len(text_line) > MAX_LINE_CHARS:
            b.unknown.append((lineno, text_line[:200] + " …"))
            continue
        found = g.match_line(text_line)
        if found is None:
            b.unknown.append((lineno, text_line))
            continue
        pattern, m = found
        b.on_match(pattern.name, m, lineno, text_line)
    return b.build(len(lines), sum(in_source), source, ranges[-1][0] + 1 if ranges else 0)


def load_log(path: Path, name: str, cap: int = MAX_LOG_BYTES) -> tuple[LogRecord | None, LogText]:
    """Read and parse a log; None for the record when the file is unreadable or binary."""
    lt = read_log(path, cap)
    if lt.error or lt.binary:
        return None, lt
    notes = (f"read the first and last {cap // 2:,} bytes of {lt.size:,}",) if lt.truncated else ()
    return parse_log(lt.text, name, notes), lt
