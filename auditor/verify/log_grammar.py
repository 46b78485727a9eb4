"""The one grammar of Parameter Golf train-log lines.

Every line shape the verifier understands is a named `LinePattern` below, grouped by what the line
is evidence of. The shapes come from the 165 train logs of the merged record folders of
openai/parameter-golf (see shared/LOG_FORMATS.md, which documents them with corpus counts) plus the
variants seen in PR heads. Nothing else in the package may hold a log regex: the parser
(`log_parse`) walks lines and asks `match_line`; the benchmark (`benchmarks/records_parse.py`)
reports the lines no pattern explains.

Pre-processing (done by the parser, described here because it is part of the grammar):
  * `TIMESTAMP_PREFIX` (`1776143349.278 `) is stripped from every line before matching;
  * lines inside an embedded source region (`SOURCE_MARKER`, or everything before the first
    `SEPARATOR` in a script-written logfile) are never matched;
  * `HPARAM_ITEM` only applies inside a `Hyperparameters:` block.

Kinds: what a line is evidence of. `noise` lines are recognised but carry nothing the checks use.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: A number as printed by the training scripts (ints, decimals, exponents, nan/inf).
N = r"(?:-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf)"

TIMESTAMP_PREFIX = re.compile(r"^\d{10}\.\d{3} ")
SEPARATOR = re.compile(r"^(?:={20,}|-{20,})\s*$")
SOURCE_MARKER = re.compile(r"^Source code:\s*$")
HPARAM_HEADER = re.compile(r"^(?:Hyperparameters:|--- Hyperparameters ---)\s*$")
HPARAM_ITEM = re.compile(r"^  (?P<key>[A-Za-z_][A-Za-z_0-9]*): ?(?P<val>.*)$")
#: Python-looking lines: used to recognise a source region that is not introduced by a marker.
PYTHON_LINE = re.compile(r"^(?:import \w|from [\w.]+ import |def \w+\(|class \w+[(:]|if __name__ ==)")
#: Lines that can only be the first line of an embedded script (docstring, shebang, imports).
SOURCE_START = re.compile(
    r"^(?:[rbuRBU]?(?:\"\"\"|\'\'\')|\"[^\"]+\"$|#!|# -\*-|from __future__ import|import \w|from [\w.]+ import )")
#: Lines that are certainly log output (used to find where source starts in a torn logfile).
LOG_LINE = re.compile(
    r"^(?:step:\d|stopping_early|final_\w+ val_|Total submission size|Serialized model|seed:\d|W\d{4} )")
#: Words that make an unexplained line worth a reviewer's attention (benchmark, hostile logs).
METRIC_WORDS = re.compile(r"val_bpb|val_loss|bytes|train_time|eval_time|submission size|seed", re.I)

KINDS = (
    "noise", "setup", "hparam", "hardware", "data", "step", "val", "stop", "schedule",
    "gptq", "size", "metric", "eval", "summary",
)


@dataclass(frozen=True)
class LinePattern:
    """One line shape: `name` is what the parser dispatches on; `example` is a line it matches
    (tests check each example is matched by its own pattern); `note` says what the line means."""

    name: str
    kind: str
    regex: re.Pattern[str]
    example: str
    note: str = ""


def _p(name: str, kind: str, pattern: str, example: str, note: str = "") -> LinePattern:
    assert kind in KINDS, kind
    return LinePattern(name, kind, re.compile(pattern), example, note)


_METRIC_TAIL = r"(?P<tail>.*)$"

PATTERNS: tuple[LinePattern, ...] = (
    # -- per-step training and periodic validation (most frequent first) ---------------------------
    _p("step", "step",
       rf"^step:(?P<step>\d+)/(?P<iters>\d+)(?: \[[^\]]+\])? train_loss:\s?(?P<loss>{N})(?: lr_mul:{N})?"
       rf" train_time:(?P<ms>{N})ms step_avg:(?P<avg>{N})ms(?: .*)?$",
       "step:7000/20000 train_loss:1.7895 train_time:591335ms step_avg:84.48ms"),
    _p("step_minutes", "step",
       rf"^(?P<step>\d+)/(?P<iters>\d+) train_loss: (?P<loss>{N}) train_time: (?P<min>{N})m"
       rf" tok/s: (?P<tps>\d+)(?: .*)?$",
       "4500/20000 train_loss: 2.2771 train_time: 9.0m tok/s: 6589668"),
    _p("val_step", "val",
       rf"^step:(?P<step>\d+)/(?P<iters>\d+) val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})"
       rf" train_time:(?P<ms>{N})ms(?: step_avg:(?P<avg>{N})ms)?(?: .*)?$",
       "step:7103/20000 val_loss:1.9253 val_bpb:1.1403 train_time:600059ms step_avg:84.48ms"),
    _p("val_step_short", "val",
       rf"^(?P<step>\d+)/(?P<iters>\d+) val_loss: (?P<loss>{N}) val_bpb: (?P<bpb>{N})$",
       "4945/20000 val_loss: 2.3539 val_bpb: 1.0756"),
    _p("warmup_step", "step", r"^(?:loop_)?warmup(?:_step)?: ?(?P<i>\d+)/(?P<n>\d+)$", "warmup_step:20/20"),
    _p("eval_progress", "eval", r"^\s+(?:sliding_eval|eval|ttt_chunk)\b.*$",
       "  sliding_eval [  1.3%] 1632/121136 windows running_bpb=1.142244"),
    _p("ttt_progress", "eval",
       r"^(?:ttp|ttpp|tttg|ttpr|ttt_progress|ttt_chunk|  ttt_chunk):? .*$",
       "ttp: b782/782 bl:2.1403 bb:1.0135 rl:2.1403 rb:1.0135 dl:30339-97114 gd:0"),
    # -- wallclock stop ------------------------------------------------------------------------------
    _p("stop", "stop",
       r"^stopping_early: wallclock_cap train_time: ?(?P<ms>\d+)ms(?: step: ?(?P<step>\d+)/(?P<iters>\d+))?\s*$",
       "stopping_early: wallclock_cap train_time: 599592ms step: 4945/20000"),
    _p("peak_memory", "stop", r"^peak memory (?:allocated|reserved):? .*$",
       "peak memory allocated: 41717 MiB reserved: 47140 MiB"),
    # -- final metrics (official and diagnostic are told apart by `metric_role`) -------------------
    _p("metric_stride_first", "metric",
       rf"^(?P<label>[A-Za-z][\w\-+.]*) stride:(?P<stride>\d+) val_loss:(?P<loss>{N})"
       rf" val_bpb:(?P<bpb>{N}){_METRIC_TAIL}",
       "final_sliding_window_eval stride:64 val_loss:1.9511 val_bpb:1.1556 eval_time:75096ms"),
    _p("metric", "metric",
       rf"^(?P<label>[A-Za-z][\w\-+.]*(?: [A-Za-z][\w\-+.]*)*?) val_loss:\s?(?P<loss>{N})(?: sliding)?"
       rf" val_bpb:\s?(?P<bpb>{N}){_METRIC_TAIL}",
       "quantized_ttt_phased val_loss:2.31944212 val_bpb:1.05989454 eval_time:508785ms"),
    _p("ttt_sliding_done", "eval",
       rf"^ttt_sliding:done val_loss=(?P<loss>{N}) val_bpb=(?P<bpb>{N}) elapsed=(?P<s>{N})s$",
       "ttt_sliding:done val_loss=1.891102 val_bpb=1.120020 elapsed=407.5s"),
    # -- sizes ---------------------------------------------------------------------------------------
    _p("serialized_raw", "size", r"^Serialized model: (?P<bytes>\d+) bytes$", "Serialized model: 67224983 bytes"),
    _p("code_size", "size", r"^Code size: (?P<bytes>\d+) bytes$", "Code size: 47642 bytes"),
    _p("code_size_raw", "size", r"^Code size \(uncompressed\): (?P<bytes>\d+) bytes$",
       "Code size (uncompressed): 157868 bytes"),
    _p("code_size_compressed", "size", r"^Code size \(compressed\): (?P<bytes>\d+) bytes$",
       "Code size (compressed): 31999 bytes"),
    _p("total_raw", "size", r"^Total submission size: (?P<bytes>\d+) bytes$",
       "Total submission size: 67272625 bytes",
       "raw fp32 model + code, never the artifact"),
    _p("serialized_tagged", "size", r"^Serialized model (?P<tag>[A-Za-z0-9_+\-]+): (?P<bytes>\d+) bytes",
       "Serialized model int8+zlib: 15815847 bytes (payload:17178912 raw_torch:17224025 payload_ratio:3.91x)"),
    _p("total_tagged", "size", r"^Total submission size (?P<tag>[A-Za-z0-9_+\-]+): (?P<bytes>\d+) bytes$",
       "Total submission size int8+zlib: 15863489 bytes",
       "the artifact: compressed model + code"),
    _p("model_code_total", "size",
       r"^model:(?P<model>\d+) code:(?P<code>\d+) total:(?P<bytes>\d+) \((?P<mb>[\d.]+) MB\)$",
       "model:15589634 code:53472 total:15643106 (15.64 MB)"),
    _p("budget_total", "size", r"^budget:(?P<bytes>\d+)/(?P<cap>\d+) \(.*\) (?:FITS|OVER\w*)$",
       "budget:15993853/16000000 (15.99/16.00MB) FITS"),
    _p("artifact_lowbit", "size",
       r"^artifact:(?P<mb>[\d.]+)MB (?P<kind>ternary|binary|xnor):(?P<n>\d+)\((?P<b>\d+)B\)"
       r" fp:(?P<fp>\d+)\((?P<fpb>\d+)B\) code:(?P<code>\d+)$",
       "artifact:15.92MB ternary:64880640(14245920B) fp:2513744(2537376B) code:70853"),
    _p("mb_total", "size",
       r"^\s*(?P<tag>[\w+]+): (?P<model>[\d.]+)MB model \+ (?P<code>[\d.]+)MB code = (?P<mb>[\d.]+)/[\d.]+MB"
       r" (?:FITS|OVER\w*)$",
       "  INT4+fp8+brotli: 15.42MB model + 0.077MB code = 15.50/16.00MB FITS"),
    _p("pipe_raw_total", "size",
       r"^Raw model: (?P<raw>\d+) bytes \| Code: (?P<code>\d+) bytes \| Total: (?P<total>\d+)$",
       "Raw model: 67224983 bytes | Code: 47642 bytes | Total: 67272625"),
    _p("pipe_artifact_total", "size",
       r"^(?P<tag>\w+\+\w+) model: (?P<model>\d+) bytes \| Total submission: (?P<bytes>\d+) bytes$",
       "INT8+zlib model: 15815847 bytes | Total submission: 15863489 bytes"),
    _p("size_verdict", "size", r"^Size (?:OK|check|over)\b.*$", "Size OK: 15.64 MB"),
    _p("script_upload", "size", r"^(?:\[modal\] Script size: \d+ bytes|Uploading \S+ \(\d+ bytes\)\.\.\.)$",
       "Uploading train_gpt.py (55483 bytes)..."),
    # -- GPTQ / calibration timing -----------------------------------------------------------------
    _p("gptq_reserve_s", "gptq", r"^gptq:reserving (?P<s>[\d.]+)s, effective=(?P<ms>\d+)ms$",
       "gptq:reserving 8.0s, effective=592000ms"),
    _p("gptq_reserve_ms", "gptq", r"^gptq:reserving (?P<res>\d+)ms from training budget, effective=(?P<ms>\d+)ms$",
       "gptq:reserving 14000ms from training budget, effective=586000ms"),
    _p("hessians_train_start", "gptq", r"^GPTQ:collecting Hessians from calibration data\.\.\.$",
       "GPTQ:collecting Hessians from calibration data...",
       "reads training shards"),
    _p("hessians_train_done", "gptq", r"^GPTQ:collected (?P<n>\d+) Hessians in (?P<s>[\d.]+)s$",
       "GPTQ:collected 67 Hessians in 4.7s"),
    _p("gptq_calibrating", "gptq", r"^gptq:calibrating with (?P<n>\d+) batches(?P<train> \(training data\))?\.\.\.$",
       "gptq:calibrating with 256 batches (training data)..."),
    _p("gptq_calibrated", "gptq", r"^gptq:calibrated (?P<n>\d+) layers in (?P<s>[\d.]+)s$",
       "gptq:calibrated 68 layers in 11.2s"),
    _p("gptq_collected_plain", "gptq", r"^gptq:collect(?:ed hessians for (?P<n>\d+) layers|ing hessians\.\.\.)$",
       "gptq:collected hessians for 68 layers"),
    _p("gptq_selfgen_start", "gptq", r"^gptq:generating autoregressive calibration data.*$",
       "gptq:generating autoregressive calibration data (64 seqs x 2048 tokens, temp=0.8)..."),
    _p("gptq_selfgen_done", "gptq", r"^gptq:generated (?P<n>\d+) sequences in (?P<s>[\d.]+)s$",
       "gptq:generated 64 sequences in 198.3s"),
    _p("gptq_selfgen_hessians", "gptq",
       r"^gptq:collect(?:ed hessians for \d+ layers \(AR self-gen\)|ing hessians from autoregressive data\.\.\.)$",
       "gptq:collected hessians for 68 layers (AR self-gen)"),
    _p("post_gptq_total", "gptq", r"^wallclock:post_gptq total_elapsed:(?P<s>[\d.]+)s train_budget:(?P<b>[\d.]+)s$",
       "wallclock:post_gptq total_elapsed:858.2s train_budget:600.0s"),
    _p("artifact_wallclock", "gptq", r"^artifact_production_wallclock: (?P<s>[\d.]+)s \(must be < (?P<lim>[\d.]+)\)$",
       "artifact_production_wallclock: 1121.067s (must be < 600.0)",
       "printed by a merged record; not authoritative"),
    _p("quant_entropy", "size",
       r"^quant_entropy: symbols:\d+ entropy_bytes:\d+ side_bytes:\d+ model_bytes:\d+ overhead:\S+$",
       "quant_entropy: symbols:26993756 entropy_bytes:15120000 side_bytes:210000 model_bytes:15589634 overhead:0.0168",
       "pgolf-audit reference trainer: quantized model against its entropy bound"),
    _p("quant_detail", "gptq",
       r"^\s*(?:gptq \(int\d+\)(?:\+\w+)?|passthrough \(float\d+\)|gate_int\d+_row|Quantized weights|"
       r"rank\s+\d+: int\d+ |Compressors: |Params: |raw quantized size: |zlib compressed: |quantized \d+ float)\S*.*$",
       "gptq (int6): blocks.attn.c_k.weight, blocks.attn.c_q.weight, ..."),
    _p("gptq_other", "gptq",
       r"^(?:gptq|GPTQ|gptq_quantize|selective_prune|serialize_wallclock|Serialize|Deserialize|GPTQ quantization)"
       r"[:\s].*$",
       "GPTQ:quantized in 12.1s  /  Serialize: per-group compression done in 99.9s"),
    # -- evaluation phases --------------------------------------------------------------------------
    _p("ttt_warmup_done", "eval", r"^ttt_lora:compile warmup done \((?P<s>[\d.]+)s\)$",
       "ttt_lora:compile warmup done (137.6s)"),
    _p("eval_timer_begin", "eval", r"^beginning TTT eval timer$", "beginning TTT eval timer"),
    _p("total_eval_time", "eval", r"^total_eval_time: ?(?P<s>[\d.]+)s$", "total_eval_time:508.8s"),
    _p("eval_only", "eval", r"^TTT_EVAL_ONLY=1\b.*$",
       "TTT_EVAL_ONLY=1 — skipping training + GPTQ, loading saved artifact for TTT eval"),
    _p("ttt_phased_header", "eval",
       r"^ttt_phased: total_docs:(?P<docs>\d+) prefix_docs:(?P<prefix>\d+) suffix_docs:\d+ num_phases:\d+ .*$",
       "ttt_phased: total_docs:50000 prefix_docs:2500 suffix_docs:47500 num_phases:3 boundaries:[833, 1666, 2500]"),
    _p("ngram_tilt", "eval",
       rf"^ngram_tilt:precompute .*?(?:elapsed=(?P<s>{N})s .*)?within_beta=(?P<within>{N}).*$",
       "ngram_tilt:precompute n_tok=40540161 hints=9560451 (23.58%) elapsed=32.3s base_beta=2.0 within_beta=0.0"
       " agree_bonus=0.1"),
    _p("eval_accounting", "eval",
       r"^eval_accounting: name:(?P<name>\S+) scored_tokens:(?P<t>\d+) scored_bytes:(?P<b>\d+)"
       r" stream_tokens:(?P<s>\d+)$",
       "eval_accounting: name:final_int6_sliding_window scored_tokens:62021631 scored_bytes:151078000"
       " stream_tokens:62021632", "pgolf-audit reference trainer: what an eval scored"),
    _p("final_eval_mode", "eval", r"^final_eval_mode:(?P<mode>\S+)(?: .*)?$",
       "final_eval_mode:sliding_window stride:64 batch_seqs:1024"),
    _p("temp_scaling", "eval", rf"^temp_scaling optimal_T:(?P<t>{N}).*$",
       "temp_scaling optimal_T:0.90 eval_time:146ms"),
    _p("eval_other", "eval",
       r"^(?:ttt_lora|ttt_sliding|ttt|ttt_phased|ttt_doc|eval|sliding_eval|ngram\w*|phased_ttt|lora_ttt)[:\s].*$",
       "ttt_sliding:start chunks=1893 chunk_tokens=32768 total_windows=969088 stride=64 ttt_lr=0.002"),
    # -- data fingerprints --------------------------------------------------------------------------
    _p("tokenizer", "data",
       r"^val_bpb:enabled tokenizer_kind=(?P<kind>\S+)(?: tokenizer_path=(?P<path>\S+))?"
       r"(?: vocab_size=(?P<vocab>\d+))?$",
       "val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path=./data/tokenizers/fineweb_1024_bpe.model"),
    _p("byte_sidecar", "data", r"^val_bpb:byte_sidecar:enabled$", "val_bpb:byte_sidecar:enabled"),
    _p("train_loader", "data", r"^train_loader:dataset:(?P<dataset>\S+) train_shards:(?P<shards>\d+)$",
       "train_loader:dataset:fineweb10B_sp1024 train_shards:80"),
    _p("val_loader", "data", r"^val_loader:shards pattern=(?P<pattern>\S+) tokens:(?P<tokens>\d+)$",
       "val_loader:shards pattern=./data/datasets/fineweb10B_sp1024/fineweb_val_*.bin tokens:62021632"),
    _p("train_shards", "data", r"^train_shards: ?(?P<shards>\d+)$", "train_shards: 80"),
    _p("val_tokens", "data", r"^val_tokens: ?(?P<tokens>\d+)$", "val_tokens: 47851520"),
    # -- setup / provenance -------------------------------------------------------------------------
    _p("seed", "setup", r"^seed: ?(?P<seed>\d+)$", "seed:42"),
    _p("compact_header", "setup",
       r"^params:(?P<params>\d+) L:(?P<layers>\d+) d:(?P<dim>\d+) h:\d+ kv:\d+ ws:(?P<ws>\d+) ga:\d+ s:(?P<seed>\d+)$",
       "params:73685840 L:10 d:768 h:8 kv:4 ws:8 ga:1 s:42"),
    _p("model_params", "setup", r"^model_params: ?(?P<n>\d+)", "model_params:35945671"),
    _p("world_size", "hardware", r"^world_size: ?(?P<ws>\d+)(?: grad_accum_steps: ?(?P<ga>\d+))?\s*$",
       "world_size:8 grad_accum_steps:1"),
    _p("batch_config", "setup",
       r"^train_batch_tokens:(?P<tbt>\d+) train_seq_len:(?P<sl>\d+) iterations:(?P<it>\d+)"
       r" warmup_steps:(?P<ws>\d+) max_wallclock_seconds:(?P<mw>[\d.]+)$",
       "train_batch_tokens:786432 train_seq_len:2048 iterations:9000 warmup_steps:20 max_wallclock_seconds:600.000"),
    _p("run_command", "setup", r"^Running: (?P<cmd>.+)$",
       "Running: torchrun --standalone --nproc_per_node=8 train_gpt.py"),
    _p("logfile_path", "setup", r"^logs/(?P<run_id>\S+)\.txt$", "logs/da29a702-7295-47ef-8940-4be71fa4fdf7.txt"),
    _p("python_version", "hardware", r"^(?:Running )?Python (?P<ver>\d+\.\d+\.\d+)\b.*$",
       "Running Python 3.10.12 (main, Mar  3 2026, 11:56:32) [GCC 11.4.0]"),
    _p("torch_version", "hardware", r"^(?:Running )?PyTorch (?P<ver>\S+)$", "Running PyTorch 2.9.1+cu128"),
    _p("device_line", "hardware", r"^device:(?P<device>\S+) name:(?P<name>.*) count:(?P<count>\d+)$",
       "device:cuda name:NVIDIA H100 80GB HBM3 count:8", "pgolf-audit reference trainer (reference_trainer.loglines)"),
    _p("gpu_row", "hardware", r"^\|\s+(?P<idx>\d+)\s+NVIDIA (?P<name>.+?)\s+(?:On|Off)\s+\|",
       "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:04:00.0 Off |   0 |"),
    _p("env_assignment", "hparam", r"^\s*(?P<key>[A-Z][A-Z0-9_]{2,})=(?P<val>\S*)$", "NGRAM_WITHIN_BETA=0"),
    _p("kv_dump", "hparam", r"^[A-Za-z_]\w*=\S*(?: [A-Za-z_]\w*=\S*){4,}\s*$",
       "activation=relu2 adam_eps=1e-08 model_dim=512 num_layers=10 seed=42 warmup_steps=20",
       "one-line hyperparameter dump"),
    _p("summary_kv", "summary", r"^(?P<key>val_bpb|val_loss|artifact_bytes|line_count|valid):\s{2,}(?P<val>\S+)$",
       "val_bpb:          1.12360306",
       "author's own summary block; not a metric line"),
    _p("schedule", "schedule",
       r"^(?:swa\w*|late_qat|ema|layer_loop|loop_warmup|warmup_cu_buckets|qat|recurrence|muon|lr|warmdown)[:\s].*$",
       "late_qat:enabled step:6581 scale:0.1500"),
    # -- recognised noise (launcher, NCCL, nvidia-smi table, separators) --------------------------
    _p("torchrun_warning", "noise", r"^W\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S*\.py:\d+\].*$",
       "W0409 04:38:18.092000 206 torch/distributed/run.py:803] *****"),
    _p("rank_warning", "noise", r"^\[(?:rank\d+\]:\[)?[WIE]\d{3,4} .*$|^\[rank\d+\]:.*$|^\[Gloo\].*$",
       "[rank3]:[W318 09:01:02.000] Warning: ..."),
    _p("python_warning", "noise",
       r"^(?:\S+\.py:\d+: \w*Warning:.*|\s+warnings\.warn\(.*|Warning: .*|UserWarning: .*|FutureWarning: .*)$",
       "/usr/lib/python3/site-packages/torch/_inductor/lowering.py:7007: UserWarning: ..."),
    _p("runner", "noise",
       r"^\s*(?:\[(?:local|modal)\] .*|\[\d\d:\d\d:\d\d\] .*|>> .*|=== .* ===|nohup: .*|start \d{4}-\d\d-\d\dT.*|"
       r"Setting OMP_NUM_THREADS .*|\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] .*NCCL (?:WARN|INFO) .*)$",
       "[19:35:17] DONE seed=42 rc=0 dur=717s",
       "launcher/orchestration output"),
    _p("json_dump", "summary", r"^\s*(?:\"[^\"]+\": .*|[{}\[\]],?)$",
       '  "post_ttt_val_bpb": 1.06400238,', "a JSON result echoed into the log; not a metric line"),
    _p("nvidia_smi", "noise", r"^[|+].*[|+-]\s*$|^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d+ \d\d:\d\d:\d\d \d{4}\s*$",
       "+-----------------------------------------------------------------------------------------+"),
    _p("source_marker", "noise", r"^Source code:\s*$", "Source code:",
       "the embedded script follows"),
    _p("separator", "noise", r"^(?:[=\-*#~_]{3,})\s*$", "===================="),
    _p("blank", "noise", r"^\s*$", ""),
    _p("status", "setup",
       r"^(?!.*(?:val_loss|val_bpb|bytes|train_time|eval_time|submission))"
       r"[A-Za-z_][\w.\-]*[:=]\s?\S.*$",
       "attention_mode:gqa num_heads:8 num_kv_heads:4",
       "configuration echo; carries no checked fact"),
)

# Metric labels: which final-metric lines are the official score of a seed (LOG-001).
_DIAGNOSTIC_LABEL = re.compile(
    r"^(?:diagnostic\b|DIAGNOSTIC\b|pre-quantization|pre_quant|prequant|post_ema|post-ema|quantized$|"
    r"final_temped$|val$|eval$|train$|.*\bpre[-_]?ttt\b)", re.I)
_OFFICIAL_LABEL = re.compile(
    r"^(?:final_[\w\-+.]+(?: sliding)?|legal_ttt(?:_exact)?|quantized_(?:sliding_window|ttt\w*)(?:_exact)?|"
    r"[\w\-+]*ttt[\w\-+]*_exact)$")


def metric_role(label: str) -> str:
    """'official', 'diagnostic' or 'other' for the label of a `metric` line (LOG_FORMATS §6)."""
    if _DIAGNOSTIC_LABEL.match(label):
        return "diagnostic"
    if _OFFICIAL_LABEL.match(label):
        return "official"
    return "other"


def metric_class(label: str) -> int:
    """Priority of an official label when several are printed: TTT 3 > sliding 2 > roundtrip 1."""
    low = label.lower()
    if "ttt" in low:
        return 3
    if "sliding" in low:
        return 2
    return 1


def _top_level_alternation(pattern: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
    return False


def _lead(pattern: str) -> str:
    """The literal first character every match of `pattern` starts with ('' when not fixed)."""
    if not pattern.startswith("^") or _top_level_alternation(pattern):
        return ""
    body = pattern[1:]
    if body[:1] == "\\":
        return body[1:2] if body[1:2] in "[]|().+*?{}" else ""
    if body[:1].isalnum() or body[:1] in "_:/-":
        return "" if body[1:2] in ("?", "*", "{") else body[0]
    return ""


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """For each fixed first character, the patterns a line starting with it can match (those that start
    with it and those that can start anywhere), in `PATTERNS` order; and the patterns for any other line."""
    by_lead: dict[str, list[int]] = {}
    anywhere: list[int] = []
    for i, pat in enumerate(PATTERNS):
        lead = _lead(pat.regex.pattern)
        (by_lead.setdefault(lead, []) if lead else anywhere).append(i)
    return {k: tuple(sorted(v + anywhere)) for k, v in by_lead.items()}, tuple(anywhere)


def match_line(line: str) -> tuple[LinePattern, re.Match[str]] | None:
    """The first pattern (in `PATTERNS` order) that matches the whole stripped line, or None."""
    by_lead, anywhere = _index()
    for i in by_lead.get(line[:1], anywhere):
        m = PATTERNS[i].regex.match(line)
        if m:
            return PATTERNS[i], m
    return None
