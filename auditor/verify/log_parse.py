"""Read one train log (capped, binary-safe) and turn it into a `LogRecord`.

The line shapes live in `log_grammar`; this module only walks lines, skips embedded source and
hyperparameter blocks, and hands each matched line to the handler named after its pattern.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from auditor.verify import log_grammar as g
from auditor.verify.log_record import Artifact, Hit, LogRecord, Metric, Step, Stop, Tokenizer

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
_EVAL_MS = re.compile(r"(?:eval_time|time):(\d+(?:\.\d+)?)ms")


@dataclass(frozen=True)
class LogText:
    """What `read_log` got from disk."""

    text: str
    size: int
    truncated: bool  # larger than the cap: head and tail were read
    binary: bool  # NUL bytes or mostly undecodable
    error: str = ""

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def read_log(path: Path, cap: int = MAX_LOG_BYTES) -> LogText:
    """Read at most `cap` bytes (head and tail halves when larger); detect binary content."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size > cap:
                head = fh.read(cap // 2)
                fh.seek(size - cap // 2)
                raw = head + b"\n" + fh.read()
            else:
                raw = fh.read()
    except OSError as exc:
        return LogText("", 0, False, False, error=f"{type(exc).__name__}: {exc.strerror or exc}")
    sample = raw[:65536]
    bad = sample.decode("utf-8", errors="replace").count("\ufffd")
    binary = b"\x00" in sample or bad > len(sample) // 20
    return LogText(raw.decode("utf-8", errors="replace"), size, size > cap, binary)


def seed_from_name(name: str) -> int | None:
    stem = Path(name).name
    for pattern in _SEED_IN_NAME:
        m = pattern.search(stem)
        if m:
            return int(m.group(1))
    return None


def decimal_places(number: str) -> int:
    """Decimals a number is written with: "1.1267" -> 4, "3" -> 0."""
    return len(number.split(".", 1)[1]) if "." in number else 0


def source_ranges(lines: list[str]) -> list[tuple[int, int]]:
    """Half-open line ranges holding embedded script source (never matched against the grammar).

    A log may embed the script once or, when several runs were appended to one file, several
    times. Source runs from a line that can only start a Python file (`g.SOURCE_START`) or from a
    `Source code:` marker to the next separator line, provided it holds at least three
    unmistakably Python lines. A torn logfile (source cut mid-line) starts after its last log line.
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
                begin = max((i for i in seg if g.LOG_LINE.match(lines[i])), default=start - 1) + 1
        if begin is not None and sum(1 for i in range(begin, end) if g.PYTHON_LINE.match(lines[i])) >= 3:
            ranges.append((begin, end))
        start, k = end + 1, k + 1
    return ranges


def blank_source(lines: list[str]) -> list[str]:
    """The log's lines with its embedded script source blanked, line numbers kept: what the run printed."""
    out = list(lines)
    for a, b in source_ranges(out):
        out[a:b] = [""] * (b - a)
    return out


def output_only(text: str) -> str:
    """`blank_source` for a whole log text."""
    return "\n".join(blank_source(text.split("\n")))


class _Builder:
    """Mutable state while walking one log; `build()` freezes it into a LogRecord."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.unknown: list[tuple[int, str]] = []
        self.seeds: list[Hit[int]] = []
        self.hparams: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.metrics: list[Metric] = []
        self.hit: dict[str, Hit] = {}  # type: ignore[type-arg]
        self.model_bytes: dict[str, int] = {}
        self.gpus: list[Hit[tuple[int, str]]] = []
        self.versions: dict[str, str] = {}
        self.eval_only = False
        self.byte_sidecar = False
        self.dataset: str | None = None
        self.model_params: int | None = None
        self.line = 0
        self.text = ""

    def put(self, key: str, value: object, *, first: bool = False) -> None:
        if not (first and key in self.hit):
            self.hit[key] = Hit(value, self.line, self.text)

    # -- handlers, one per pattern name (see HANDLERS) --------------------------------------------
    def step(self, gd: dict[str, str]) -> None:
        self.put("last_step", Step(int(gd["step"]), int(gd["iters"]), float(gd["ms"]), float(gd["avg"])))

    def step_minutes(self, gd: dict[str, str]) -> None:
        self.put("last_step", Step(int(gd["step"]), int(gd["iters"]), float(gd["min"]) * 60000.0, None))

    def val_step(self, gd: dict[str, str]) -> None:
        prev = self.hit.get("last_step")
        avg = float(gd["avg"]) if gd.get("avg") else (prev.value.step_avg_ms if prev else None)
        if int(gd["step"]) > 0:
            self.put("last_step", Step(int(gd["step"]), int(gd["iters"]), float(gd["ms"]), avg))

    def stop(self, gd: dict[str, str]) -> None:
        step, iters = gd.get("step"), gd.get("iters")
        self.put("stop", Stop(int(gd["ms"]), int(step) if step else None, int(iters) if iters else None))

    def metric(self, gd: dict[str, str]) -> None:
        label, bpb = (gd["label"] or "").strip(), gd["bpb"]
        em = _EVAL_MS.search(gd.get("tail") or "")
        self.metrics.append(Metric(label, g.metric_role(label), g.metric_class(label), float(gd["loss"]), float(bpb),
                                   float(em.group(1)) if em else None, decimal_places(bpb), self.line, self.text))

    def total(self, gd: dict[str, str]) -> None:
        tag = gd.get("tag") or "total"
        self.put("artifact", Artifact(int(gd["bytes"]), tag, True))
        if "model" in gd and "code" in gd:
            self.model_bytes[tag] = int(gd["model"])
            self.put("code_bytes", int(gd["code"]))

    def total_raw(self, gd: dict[str, str]) -> None:
        """An untagged total is the artifact only when it adds a compressed model to the code."""
        total, code = int(gd["bytes"]), self.hit.get("code_bytes")
        tag = next((t for t, b in self.model_bytes.items() if code is not None and b + code.value == total), None)
        if tag is not None:
            self.put("artifact", Artifact(total, tag, True))

    def approximate_total(self, gd: dict[str, str]) -> None:
        if "artifact" not in self.hit or not self.hit["artifact"].value.exact:
            self.put("artifact", Artifact(round(float(gd["mb"]) * 1e6), gd.get("kind") or gd["tag"], False))
        if gd.get("code") and gd["code"].isdigit():
            self.put("code_bytes", int(gd["code"]))

    def calibration(self, kind: str) -> None:
        """The first calibration line decides where it starts; a later line may only make an
        'unknown' source specific (`gptq:calibrating ...` then `collected hessians`)."""
        known = self.hit.get("calibration")
        if known is None:
            self.put("calibration", kind)
        elif known.value == "unknown" and kind != "unknown":
            self.hit["calibration"] = Hit(kind, known.line, known.text)

    def kv_dump(self, text: str) -> None:
        for token in text.split():
            key, _, val = token.partition("=")
            self.hparams.setdefault(key, val)
            if key == "seed" and val.isdigit():
                self.seeds.append(Hit(int(val), self.line, text))

    def hparam(self, key: str, val: str) -> None:
        self.hparams[key] = val
        if key == "seed" and val.isdigit():
            self.seeds.append(Hit(int(val), self.line, self.text))
        elif key == "world_size" and val.isdigit():
            self.put("world_size", int(val))

    def build(self, lines_total: int, lines_source: int, source: str | None, source_line: int,
              notes: tuple[str, ...]) -> LogRecord:
        h = self.hit.get
        return LogRecord(
            name=self.name, lines_total=lines_total, lines_source=lines_source, unknown=tuple(self.unknown),
            seeds_stated=tuple(self.seeds), seed_from_name=seed_from_name(self.name), hparams=self.hparams,
            env=self.env, metrics=tuple(self.metrics), last_step=h("last_step"), stop=h("stop"),
            eval_only=self.eval_only, gptq_reserve_ms=h("gptq_reserve_ms"), calibration=h("calibration"),
            calibration_s=h("calibration_s"), selfgen_s=h("selfgen_s"), post_gptq_total_s=h("post_gptq_total_s"),
            artifact=h("artifact"), model_bytes=self.model_bytes, code_bytes=h("code_bytes"),
            code_bytes_raw=h("code_bytes_raw"), code_bytes_compressed=h("code_bytes_compressed"),
            total_eval_s=h("total_eval_s"), ttt_warmup_s=h("ttt_warmup_s"), ngram_within_beta=h("ngram_within_beta"),
            ngram_precompute_s=h("ngram_precompute_s"), world_size=h("world_size"), gpus=tuple(self.gpus),
            versions=self.versions, train_shards=h("train_shards"), val_tokens=h("val_tokens"), dataset=self.dataset,
            tokenizer=h("tokenizer"), byte_sidecar=self.byte_sidecar, model_params=self.model_params,
            run_command=h("run_command"), source=source, source_line=source_line, notes=notes,
        )


def _number(key: str, group: str, scale: float = 1.0, *, integer: bool = False,
            first: bool = False) -> Callable[[_Builder, dict[str, str]], None]:
    def handle(b: _Builder, gd: dict[str, str]) -> None:
        value = float(gd[group]) * scale
        b.put(key, int(value) if integer else value, first=first)
    return handle


def _reserve_seconds(b: _Builder, gd: dict[str, str]) -> None:
    """`gptq:reserving 0s, effective=599500ms`: the seconds are rounded, so a sub-second reserve prints as 0;
    the cap minus `effective` gives it exactly when the two agree to within that rounding."""
    printed = float(gd["s"]) * 1000.0
    try:
        cap = float(b.hparams.get("max_wallclock_seconds", "600")) * 1000.0
    except ValueError:
        cap = 600_000.0
    implied = cap - float(gd["ms"])
    b.put("gptq_reserve_ms", implied if 0.0 < implied and abs(implied - printed) <= 500.0 else printed)


def _seed(b: _Builder, gd: dict[str, str]) -> None:
    b.seeds.append(Hit(int(gd["seed"]), b.line, b.text))


def _compact_header(b: _Builder, gd: dict[str, str]) -> None:
    _seed(b, gd)
    b.put("world_size", int(gd["ws"]))
    b.model_params = int(gd["params"])
    b.hparams.setdefault("num_layers", gd["layers"])
    b.hparams.setdefault("model_dim", gd["dim"])


def _tokenizer(b: _Builder, gd: dict[str, str]) -> None:
    b.put("tokenizer", Tokenizer(gd["kind"], gd.get("path"), int(gd["vocab"]) if gd.get("vocab") else None))


def _train_loader(b: _Builder, gd: dict[str, str]) -> None:
    b.dataset = gd["dataset"]
    b.put("train_shards", int(gd["shards"]))


def _ngram(b: _Builder, gd: dict[str, str]) -> None:
    b.put("ngram_within_beta", float(gd["within"]))
    if gd.get("s"):
        b.put("ngram_precompute_s", float(gd["s"]))


def _batch_config(b: _Builder, gd: dict[str, str]) -> None:
    b.hparams.setdefault("iterations", gd["it"])
    b.hparams.setdefault("max_wallclock_seconds", gd["mw"])


def _set(attr: str, value: object) -> Callable[[_Builder, dict[str, str]], None]:
    return lambda b, gd: setattr(b, attr, value)


def _calibration(kind: str, seconds: str | None = None) -> Callable[[_Builder, dict[str, str]], None]:
    def handle(b: _Builder, gd: dict[str, str]) -> None:
        if seconds is not None:
            b.put(seconds, float(gd["s"]))
        b.calibration("unknown" if kind == "train?" and not gd.get("train") else kind.rstrip("?"))
    return handle


HANDLERS: dict[str, Callable[[_Builder, dict[str, str]], None]] = {
    "step": _Builder.step, "step_minutes": _Builder.step_minutes, "val_step": _Builder.val_step,
    "stop": _Builder.stop, "metric": _Builder.metric, "metric_stride_first": _Builder.metric,
    "total_tagged": _Builder.total, "model_code_total": _Builder.total, "budget_total": _Builder.total,
    "pipe_artifact_total": _Builder.total, "total_raw": _Builder.total_raw,
    "artifact_lowbit": _Builder.approximate_total, "mb_total": _Builder.approximate_total,
    "serialized_tagged": lambda b, gd: b.model_bytes.__setitem__(gd["tag"], int(gd["bytes"])),
    "code_size": _number("code_bytes", "bytes", integer=True),
    "code_size_raw": _number("code_bytes_raw", "bytes", integer=True),
    "code_size_compressed": _number("code_bytes_compressed", "bytes", integer=True),
    "gptq_reserve_s": _reserve_seconds, "gptq_reserve_ms": _number("gptq_reserve_ms", "res"),
    "hessians_train_start": _calibration("train"), "gptq_collected_plain": _calibration("train"),
    "gptq_calibrating": _calibration("train?"),
    "hessians_train_done": _calibration("train", "calibration_s"),
    "gptq_calibrated": _calibration("train", "calibration_s"),
    "gptq_selfgen_start": _calibration("selfgen"), "gptq_selfgen_hessians": _calibration("selfgen"),
    "gptq_selfgen_done": _calibration("selfgen", "selfgen_s"),
    "post_gptq_total": _number("post_gptq_total_s", "s"), "total_eval_time": _number("total_eval_s", "s"),
    "ttt_warmup_done": _number("ttt_warmup_s", "s"), "eval_only": _set("eval_only", True), "ngram_tilt": _ngram,
    "tokenizer": _tokenizer, "byte_sidecar": _set("byte_sidecar", True), "train_loader": _train_loader,
    "train_shards": _number("train_shards", "shards", integer=True),
    "val_loader": _number("val_tokens", "tokens", integer=True),
    "val_tokens": _number("val_tokens", "tokens", integer=True),
    "seed": _seed, "compact_header": _compact_header,
    "model_params": lambda b, gd: setattr(b, "model_params", int(gd["n"])),
    "world_size": _number("world_size", "ws", integer=True), "batch_config": _batch_config,
    "run_command": lambda b, gd: b.put("run_command", gd["cmd"], first=True),
    "python_version": lambda b, gd: b.versions.__setitem__("python", gd["ver"]),
    "torch_version": lambda b, gd: b.versions.__setitem__("torch", gd["ver"]),
    "gpu_row": lambda b, gd: b.gpus.append(Hit((int(gd["idx"]), gd["name"].strip()), b.line, b.text)),
    "device_line": lambda b, gd: b.gpus.extend(
        Hit((i, gd["name"].removeprefix("NVIDIA ").strip()), b.line, b.text) for i in range(int(gd["count"]))
        if gd["device"] == "cuda"),
    "env_assignment": lambda b, gd: b.env.__setitem__(gd["key"], gd["val"]),
    "kv_dump": lambda b, gd: b.kv_dump(b.text),
}


def parse_log(text: str, name: str, notes: tuple[str, ...] = ()) -> LogRecord:
    """Parse a log's text. `name` is the log's path relative to the folder (used for evidence)."""
    lines = [g.TIMESTAMP_PREFIX.sub("", ln, count=1)
             for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    ranges = source_ranges(lines)
    in_source = bytearray(len(lines))
    for start, end in ranges:
        in_source[start:end] = b"\x01" * (end - start)
    b = _Builder(name)
    in_hparams = False
    for i, line in enumerate(lines):
        if in_source[i]:
            continue
        b.line, b.text = i + 1, line
        if in_hparams:
            item = g.HPARAM_ITEM.match(line)
            if item:
                b.hparam(item.group("key"), item.group("val").strip())
                continue
            in_hparams = False
        if g.HPARAM_HEADER.match(line):
            in_hparams = True
            continue
        found = g.match_line(line) if len(line) <= MAX_LINE_CHARS else None
        if found is None:
            b.unknown.append((i + 1, line if len(line) <= MAX_LINE_CHARS else line[:200] + " …"))
            continue
        handler = HANDLERS.get(found[0].name)
        if handler is not None:
            handler(b, found[1].groupdict())
    source = "\n".join(lines[ranges[-1][0]:ranges[-1][1]]) + "\n" if ranges else None
    return b.build(len(lines), sum(in_source), source, ranges[-1][0] + 1 if ranges else 0, notes)


def load_log(path: Path, name: str, cap: int = MAX_LOG_BYTES) -> tuple[LogRecord | None, LogText]:
    """Read and parse a log; None for the record when the file is unreadable, binary or empty."""
    lt = read_log(path, cap)
    if lt.error or lt.binary or lt.empty:
        return None, lt
    notes = (f"read the first and last {cap // 2:,} bytes of {lt.size:,}",) if lt.truncated else ()
    return parse_log(lt.text, name, notes), lt
