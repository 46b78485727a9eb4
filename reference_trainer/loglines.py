"""The train-log grammar: every line the trainer writes, as a template and the regex that parses it.

Shapes follow the challenge's "family B" scripts (records 2026-03-19 .. 2026-04-04, e.g. PR #549 and
#1019) as catalogued in shared/LOG_FORMATS.md, so the project's log parser reads our logs like a
record's. The trainer never formats a log line itself: it calls `render(kind, **values)`, which
checks the result against `PATTERNS[kind]`; producer and parser therefore cannot drift.

Pure standard library (no torch), so the auditor can import the grammar without the [train] extra.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

N = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"  # a number, as in LOG_FORMATS.md
SEPARATOR = "=" * 100

# kind: (template, regex). Kinds marked "ours" are not in LOG_FORMATS.md; they use our own prefix.
GRAMMAR: dict[str, tuple[str, str]] = {
    # -- header (after the embedded source)
    "separator": (SEPARATOR, r"^={100}$"),
    "python": ("Running Python {version}", r"^Running Python (?P<ver>\d+\.\d+\.\d+)"),
    "pytorch": ("Running PyTorch {version}", r"^Running PyTorch (?P<ver>\S+)$"),
    "device": ("device:{device} name:{name} count:{count}",  # ours (CPU runs have no nvidia-smi)
               r"^device:(?P<device>\S+) name:(?P<name>.*) count:(?P<count>\d+)$"),
    "tokenizer": ("val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path={path}",
                  r"^val_bpb:enabled tokenizer_kind=(?P<kind>\S+) tokenizer_path=(?P<path>\S+)$"),
    "train_loader": ("train_loader:dataset:{dataset} train_shards:{shards}",
                     r"^train_loader:dataset:(?P<dataset>\S+) train_shards:(?P<shards>\d+)$"),
    "val_loader": ("val_loader:shards pattern={pattern} tokens:{tokens}",
                   r"^val_loader:shards pattern=(?P<pattern>\S+) tokens:(?P<tokens>\d+)$"),
    "model_params": ("model_params:{n}", r"^model_params:(?P<n>\d+)"),
    "world_size": ("world_size:{world_size} grad_accum_steps:{grad_accum}",
                   r"^world_size:(?P<ws>\d+) grad_accum_steps:(?P<ga>\d+)$"),
    "batch_config": ("train_batch_tokens:{tokens} train_seq_len:{seq_len} iterations:{iterations} "
                     "warmup_steps:{warmup} max_wallclock_seconds:{cap:.3f}",
                     r"^train_batch_tokens:(?P<tbt>\d+) train_seq_len:(?P<sl>\d+) iterations:(?P<it>\d+) "
                     r"warmup_steps:(?P<ws>\d+) max_wallclock_seconds:(?P<mw>[\d.]+)$"),
    "seed": ("seed:{seed}", r"^seed:(?P<seed>\d+)$"),
    "gptq_reserve": ("gptq:reserving {seconds:.1f}s, effective={ms:.0f}ms",
                     r"^gptq:reserving (?P<s>[\d.]+)s, effective=(?P<ms>\d+)ms$"),
    # -- training
    "warmup_step": ("warmup_step:{i}/{n}", r"^warmup_step:(?P<i>\d+)/(?P<n>\d+)$"),
    "val_step": ("step:{step}/{iterations} val_loss:{loss:.4f} val_bpb:{bpb:.4f} "
                 "train_time:{ms:.0f}ms step_avg:{avg:.2f}ms",
                 rf"^step:(?P<step>\d+)/(?P<iters>\d+) val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N}) "
                 r"train_time:(?P<ms>\d+)ms(?: step_avg:(?P<avg>[\d.]+)ms)?"),
    "train_step": ("step:{step}/{iterations} train_loss:{loss:.4f} train_time:{ms:.0f}ms "
                   "step_avg:{avg:.2f}ms tok/s:{tps:.0f}",
                   rf"^step:(?P<step>\d+)/(?P<iters>\d+)(?: \[[^\]]+\])? train_loss:(?P<loss>{N})"
                   rf"(?: lr_mul:(?P<lr>{N}))? train_time:(?P<ms>\d+)ms step_avg:(?P<avg>[\d.]+)ms"
                   r"(?: tok/s:(?P<tps>\d+))?$"),
    "swa_start": ("swa:start step:{step}", r"^swa:start step:(?P<step>\d+)$"),
    "late_qat": ("late_qat:enabled step:{step} scale:{scale:.4f}",
                 rf"^late_qat:enabled step:(?P<step>\d+) scale:(?P<scale>{N})$"),
    "stop": ("stopping_early: wallclock_cap train_time:{ms:.0f}ms step:{step}/{iterations}",
             r"^stopping_early: wallclock_cap train_time:(?P<ms>\d+)ms(?: step:(?P<step>\d+)/(?P<iters>\d+))?$"),
    "peak_memory": ("peak memory allocated: {allocated} MiB reserved: {reserved} MiB",
                    r"^peak memory allocated: (?P<a>\d+) MiB reserved: (?P<r>\d+) MiB$"),
    "weights_applied": ("{kind}:applying {upper} weights",  # ema:applying EMA weights
                        r"^(?P<kind>ema|swa|raw):applying (?:EMA|SWA|RAW) weights$"),
    "diagnostic": ("DIAGNOSTIC post_{kind} val_loss:{loss:.4f} val_bpb:{bpb:.4f} eval_time:{ms:.0f}ms",
                   rf"^DIAGNOSTIC post_(?P<kind>ema|swa|raw) val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N}) "
                   r"eval_time:(?P<ms>\d+)ms$"),
    # -- calibration and quantization
    "gptq_collecting": ("GPTQ:collecting Hessians from calibration data...",
                        r"^GPTQ:collecting Hessians from calibration data\.\.\.$"),
    "gptq_generating": ("gptq:generating autoregressive calibration data ({seqs} seqs x {length} tokens, "
                        "temp={temp})...",
                        r"^gptq:generating autoregressive calibration data \((?P<n>\d+) seqs x (?P<L>\d+) "
                        r"tokens, temp=(?P<t>[\d.]+)\)\.\.\.$"),
    "gptq_generated": ("gptq:generated {seqs} sequences in {seconds:.1f}s",
                       r"^gptq:generated (?P<n>\d+) sequences in (?P<s>[\d.]+)s$"),
    "gptq_collected": ("GPTQ:collected {n} Hessians in {seconds:.1f}s",
                       r"^GPTQ:collected (?P<n>\d+) Hessians in (?P<s>[\d.]+)s$"),
    "post_gptq": ("wallclock:post_gptq total_elapsed:{elapsed:.1f}s train_budget:{budget:.1f}s",
                  r"^wallclock:post_gptq total_elapsed:(?P<s>[\d.]+)s train_budget:(?P<b>[\d.]+)s$"),
    "over_budget": ("warning: training + calibration on training data took {elapsed:.1f}s, over the "  # ours
                    "{budget:.1f}s training cap (TIME-004)",
                    r"^warning: training \+ calibration on training data took (?P<s>[\d.]+)s, over the "
                    r"(?P<b>[\d.]+)s training cap \(TIME-004\)$"),
    "gptq_quantized": ("GPTQ:quantized in {seconds:.1f}s", r"^GPTQ:quantized in (?P<s>[\d.]+)s$"),
    "serialize_time": ("serialize_wallclock: {seconds:.3f}s", r"^serialize_wallclock: (?P<s>[\d.]+)s$"),
    "prune_fits": ("selective_prune: already fits, no pruning needed",
                   r"^selective_prune: already fits, no pruning needed$"),
    "prune_done": ("selective_prune: pruned {pruned} of {candidates} +/-1 values target_bytes:{target}",
                   r"^selective_prune: pruned (?P<n>\d+) of (?P<m>\d+) \+/-1 values target_bytes:(?P<t>\d+)$"),
    "prune_short": ("warning: selective_prune: {bytes} bytes with every +/-1 value pruned, "  # ours
                    "over target_bytes:{target}",
                    r"^warning: selective_prune: (?P<bytes>\d+) bytes with every \+/-1 value pruned, "
                    r"over target_bytes:(?P<t>\d+)$"),
    "raw_model": ("Serialized model: {bytes} bytes", r"^Serialized model: (?P<bytes>\d+) bytes$"),
    "code_size": ("Code size: {bytes} bytes", r"^Code size: (?P<bytes>\d+) bytes$"),
    "model_size": ("Serialized model {tag}: {bytes} bytes",
                   r"^Serialized model (?P<tag>[A-Za-z0-9_+\-]+): (?P<bytes>\d+) bytes"),
    "total_size": ("Total submission size {tag}: {bytes} bytes",
                   r"^Total submission size (?P<tag>[A-Za-z0-9_+\-]+): (?P<bytes>\d+) bytes$"),
    "quant_entropy": ("quant_entropy: symbols:{symbols} entropy_bytes:{entropy} side_bytes:{side} "  # ours
                      "model_bytes:{model} overhead:{overhead:.4f}",
                      rf"^quant_entropy: symbols:(?P<n>\d+) entropy_bytes:(?P<e>\d+) side_bytes:(?P<side>\d+) "
                      rf"model_bytes:(?P<b>\d+) overhead:(?P<r>{N})$"),
    # -- final metrics
    "roundtrip": ("final_int{bits}_roundtrip val_loss:{loss:.4f} val_bpb:{bpb:.4f} eval_time:{ms:.0f}ms",
                  rf"^final_(?P<q>int\d+)_roundtrip val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})"
                  r"(?: eval_time:(?P<ms>\d+)ms)?$"),
    "roundtrip_exact": ("final_int{bits}_roundtrip_exact val_loss:{loss:.8f} val_bpb:{bpb:.8f}",
                        rf"^final_(?P<q>int\d+)_roundtrip_exact val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})$"),
    "sliding": ("final_int{bits}_sliding_window val_loss:{loss:.4f} val_bpb:{bpb:.4f} stride:{stride} "
                "eval_time:{ms:.0f}ms",
                rf"^final_int\d+_sliding_window val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})"
                r"(?: stride:(?P<stride>\d+))? eval_time:(?P<ms>\d+)ms$"),
    "sliding_exact": ("final_int{bits}_sliding_window_exact val_loss:{loss:.8f} val_bpb:{bpb:.8f}",
                      rf"^final_int\d+_sliding_window_exact val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})$"),
    "eval_accounting": ("eval_accounting: name:{name} scored_tokens:{tokens} scored_bytes:{bytes} "  # ours
                        "stream_tokens:{stream}",
                        r"^eval_accounting: name:(?P<name>\S+) scored_tokens:(?P<t>\d+) scored_bytes:(?P<b>\d+) "
                        r"stream_tokens:(?P<s>\d+)$"),
    "ttt_start": ("ttt_sliding:start chunks={chunks} chunk_tokens={chunk_tokens} total_windows={windows} "
                  "stride={stride} ttt_lr={lr} ttt_epochs={epochs} freeze_blocks={freeze}",
                  rf"^ttt_sliding:start chunks=(?P<c>\d+) chunk_tokens=(?P<ct>\d+) total_windows=(?P<w>\d+) "
                  rf"stride=(?P<s>\d+) ttt_lr=(?P<lr>{N}) ttt_epochs=(?P<e>\d+) freeze_blocks=(?P<f>\d+)$"),
    "ttt_chunk": ("  ttt_chunk [{i}/{n}] bpb={bpb:.6f} time={seconds:.1f}s",
                  rf"^  ttt_chunk \[(?P<i>\d+)/(?P<n>\d+)\] bpb=(?P<bpb>{N}) time=(?P<t>{N})s$"),
    "ttt_done": ("ttt_sliding:done val_loss={loss:.6f} val_bpb={bpb:.6f} elapsed={seconds:.1f}s",
                 rf"^ttt_sliding:done val_loss=(?P<loss>{N}) val_bpb=(?P<bpb>{N}) elapsed=(?P<s>{N})s$"),
    "legal_ttt": ("legal_ttt val_loss:{loss:.4f} val_bpb:{bpb:.4f} eval_time:{ms:.0f}ms",
                  rf"^legal_ttt val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})(?: eval_time:(?P<ms>\d+)ms)?$"),
    "legal_ttt_exact": ("legal_ttt_exact val_loss:{loss:.8f} val_bpb:{bpb:.8f}",
                        rf"^legal_ttt_exact val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})(?: eval_time:(?P<ms>\d+)ms)?$"),
}

PATTERNS: dict[str, re.Pattern[str]] = {kind: re.compile(rx) for kind, (_, rx) in GRAMMAR.items()}


def render(kind: str, /, **values: object) -> str:
    """Format one log line of `kind` and check it against its own regex."""
    template, _ = GRAMMAR[kind]
    line = template.format(**values)
    if not PATTERNS[kind].match(line):
        raise ValueError(f"log line of kind {kind!r} does not match its grammar: {line!r}")
    return line


def parse(line: str) -> tuple[str, dict[str, str]] | None:
    """The first kind whose regex matches `line`, with its named groups (None if no kind matches)."""
    for kind, pattern in PATTERNS.items():
        m = pattern.match(line)
        if m:
            return kind, m.groupdict()
    return None


class RunLog:
    """Appends lines to the run's log file (rank 0 only) and echoes them to a console callback."""

    def __init__(self, path: Path | None, echo: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.echo = echo
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def raw(self, text: str, console: bool = False) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(text if text.endswith("\n") else text + "\n")
        if console and self.echo is not None:
            self.echo(text)

    def emit(self, kind: str, /, console: bool = True, **values: object) -> str:
        line = render(kind, **values)
        self.raw(line, console=console)
        return line
