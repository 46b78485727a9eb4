"""Run configuration: one frozen dataclass, two presets, environment and CLI overrides.

Defaults are the `record` preset: the 11-layer x 512 recipe of the 2026-03-22..03-29 records
(PR #374 -> #549 -> #1019 lineage in openai/parameter-golf). `tiny` is a CPU-sized variant for tests.

Precedence, lowest first: preset < environment (`NUM_LAYERS=11`, the challenge's convention: every
field's upper-case name) < explicit overrides (`--set num_layers=11`). The config is printed as an
aligned block on the console, written into the log as the challenge's `Hyperparameters:` block,
and stored in the checkpoint and in the artifact.

This module deliberately imports neither torch nor the auditor (it is bundled by `pgolf-train pack`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields, replace
from typing import Mapping


@dataclass(frozen=True)
class TrainConfig:
    # ------------------------------------------------------------------ data
    data_dir: str = ""                 # folder written by `pgolf-train prepare`
    tokenizer_path: str = ""           # "" -> <data_dir>/tokenizer.model
    vocab_size: int = 1024             # must equal the tokenizer's; 0 -> take it from the tokenizer
    seed: int = 1337
    run_id: str = ""                   # "" -> train_seed<seed>
    # ------------------------------------------------------------------ model
    num_layers: int = 11
    model_dim: int = 512
    num_heads: int = 8
    num_kv_heads: int = 4              # GQA: 2 query heads share one key/value head
    mlp_mult: float = 3.0
    mlp_act: str = "relu2"             # relu2 | leaky2 (LeakyReLU(0.5)^2, PR #549)
    logit_softcap: float = 30.0        # logits = c * tanh(z / c)
    tied_embed_init_std: float = 0.005
    rope_base: float = 10000.0
    rope_dims: int = 16                # partial RoPE: rotate 16 of the 64 head dims
    qk_gain_init: float = 1.5
    ln_scale: bool = True              # scale each block's normed input by 1/sqrt(layer+1)
    xsa_layers: str = "all"            # exclusive self-attention: all | none | last:N | 0,5,10
    smear_gate: bool = True            # blend each position with the previous one (masked at BOS)
    bos_id: int = 1                    # SentencePiece <s>; every document starts with it
    bigram_vocab_size: int = 2048      # BigramHash buckets; 0 disables
    bigram_dim: int = 128
    ve_dim: int = 128                  # shared value embedding width; 0 disables
    ve_layers: str = "9,10"            # layers whose attention values get the value embedding
    # ------------------------------------------------------------------ batch and schedule
    train_seq_len: int = 2048
    train_batch_tokens: int = 786_432  # global tokens per optimizer step
    grad_accum_base: int = 8           # grad_accum_steps = grad_accum_base // world_size
    iterations: int = 20_000
    lr_warmup_steps: int = 0           # linear LR warm-up (the records use none)
    warmdown_iters: int = 3500         # length of the final linear LR decay, in steps
    compile_warmup_steps: int = 20     # priming steps, weights and optimizer restored (TIME-003)
    max_wallclock_seconds: float = 600.0  # 0 disables the cap
    val_loss_every: int = 4000         # 0 -> only after the last step
    train_log_every: int = 500
    # ------------------------------------------------------------------ optimizer
    matrix_lr: float = 0.025           # Muon, all Linear weights
    scalar_lr: float = 0.025           # AdamW, gains, gates, mixes
    embed_lr: float = 0.035            # AdamW, embedding tables (tied input/output)
    muon_momentum: float = 0.99
    muon_momentum_warmup_start: float = 0.92
    muon_momentum_warmup_steps: int = 1500
    muon_ns_steps: int = 5
    muon_wd: float = 0.04              # decoupled: w <- w * (1 - lr * wd)
    adam_wd: float = 0.04
    beta1: float = 0.9
    beta2: float = 0.95
    adam_eps: float = 1e-8
    grad_clip_norm: float = 0.3        # 0 disables
    # ------------------------------------------------------------------ averaging and late QAT
    ema_decay: float = 0.997           # 0 disables
    swa_every: int = 50                # tight SWA: average every N steps once lr scale < swa_threshold
    swa_threshold: float = 0.2
    final_weights: str = "ema"         # ema | swa | raw
    late_qat_threshold: float = 0.15   # int-N STE fake quantization once lr scale drops below; 0 disables
    # ------------------------------------------------------------------ quantization and artifact
    quant_bits: int = 6                # Linear weights, per-row scales
    embed_bits: int = 8                # embedding tables
    quant_method: str = "gptq"         # rtn | gptq_lite | gptq
    gptq_calib: str = "train"          # train (timed, inside the cap) | selfgen (model samples)
    gptq_reserve_seconds: float = 10.0  # cut from the training cap for train-data calibration
    calib_tokens: int = 262_144        # train-data calibration tokens (global)
    selfgen_seqs: int = 64
    selfgen_len: int = 2048
    selfgen_temperature: float = 0.8
    gptq_block_size: int = 128
    gptq_damp: float = 0.01
    artifact_target_bytes: int = 16_000_000  # code + model; selective +/-1 pruning aims below it
    zstd_level: int = 22
    prune_search_level: int = 9        # zstd level used while searching the pruning amount
    # ------------------------------------------------------------------ evaluation
    eval_seq_len: int = 2048
    eval_stride: int = 64              # sliding windows (BPB-004)
    eval_batch_seqs: int = 32
    ttt_enabled: bool = False          # legal score-first TTT (PR #461 / #549 recipe)
    ttt_chunk_tokens: int = 32_768
    ttt_lr: float = 0.002
    ttt_momentum: float = 0.9
    ttt_epochs: int = 3
    ttt_batch_seqs: int = 32
    ttt_freeze_blocks: int = 0
    ttt_grad_clip: float = 1.0
    # ------------------------------------------------------------------ system
    use_compile: str = "auto"          # auto (CUDA only) | on | off
    attention: str = "auto"            # auto (FlashAttention 3 if importable, else SDPA) | fa3 | sdpa


PRESETS: dict[str, TrainConfig] = {
    "record": TrainConfig(),
    "tiny": TrainConfig(
        vocab_size=0, num_layers=4, model_dim=64, num_heads=4, num_kv_heads=2, rope_dims=8,
        bigram_vocab_size=256, bigram_dim=32, ve_dim=32, ve_layers="2,3",
        train_seq_len=128, train_batch_tokens=2048, grad_accum_base=2, iterations=60,
        warmdown_iters=20, compile_warmup_steps=0, max_wallclock_seconds=120.0,
        val_loss_every=0, train_log_every=10,
        matrix_lr=0.04, scalar_lr=0.04, embed_lr=0.1, muon_momentum_warmup_steps=20,
        ema_decay=0.9, swa_every=5, late_qat_threshold=0.3,
        gptq_reserve_seconds=1.0, calib_tokens=8192, selfgen_seqs=8, selfgen_len=128,
        gptq_block_size=32, artifact_target_bytes=16_000_000, prune_search_level=3,
        eval_seq_len=128, eval_stride=64, eval_batch_seqs=16,
        ttt_chunk_tokens=2048, ttt_lr=0.01, ttt_epochs=1, ttt_batch_seqs=8,
    ),
}

CHOICES: dict[str, tuple[str, ...]] = {
    "mlp_act": ("relu2", "leaky2"),
    "final_weights": ("ema", "swa", "raw"),
    "quant_method": ("rtn", "gptq_lite", "gptq"),
    "gptq_calib": ("train", "selfgen"),
    "use_compile": ("auto", "on", "off"),
    "attention": ("auto", "fa3", "sdpa"),
}


def _parse(field: dataclasses.Field, raw: str) -> object:
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise ValueError(f"{field.name}: expected a boolean, got {raw!r}")
        return lowered in {"1", "true", "yes", "on"}
    if kind == "int":
        return int(float(raw)) if "e" in raw.lower() else int(raw.replace("_", ""))
    if kind == "float":
        return float(raw)
    value = raw.strip()
    if field.name in CHOICES and value not in CHOICES[field.name]:
        raise ValueError(f"{field.name}: expected one of {CHOICES[field.name]}, got {value!r}")
    return value


def with_overrides(cfg: TrainConfig, overrides: Mapping[str, str]) -> TrainConfig:
    """Return `cfg` with string values parsed into the field types (`{"num_layers": "9"}`)."""
    by_name = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise KeyError(f"unknown config field(s): {', '.join(unknown)}")
    return replace(cfg, **{k: _parse(by_name[k], v) for k, v in overrides.items()})


def from_env(cfg: TrainConfig, environ: Mapping[str, str]) -> TrainConfig:
    """Apply every `FIELD_NAME` environment variable that is set (the records' convention)."""
    found = {f.name: environ[f.name.upper()] for f in fields(TrainConfig) if f.name.upper() in environ}
    return with_overrides(cfg, found)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`["a=1", "b=x"]` -> `{"a": "1", "b": "x"}` (for repeated `--set key=value`)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip().replace("-", "_")] = value
    return out


def load_config(preset: str, environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, str] | None = None) -> TrainConfig:
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    cfg = PRESETS[preset]
    if environ is not None:
        cfg = from_env(cfg, environ)
    return with_overrides(cfg, overrides or {})


def as_dict(cfg: TrainConfig) -> dict[str, object]:
    return dataclasses.asdict(cfg)


def aligned_block(cfg: TrainConfig) -> list[str]:
    """Console view: `name  value` with names padded to one column."""
    width = max(len(f.name) for f in fields(TrainConfig))
    return [f"  {f.name:<{width}}  {getattr(cfg, f.name)}" for f in fields(TrainConfig)]


def hyperparameter_lines(cfg: TrainConfig) -> list[str]:
    """Log view, exactly the challenge's shape: `Hyperparameters:` then `  key: value` lines."""
    return ["Hyperparameters:"] + [f"  {f.name}: {getattr(cfg, f.name)}" for f in fields(TrainConfig)]


def parse_layer_set(spec: str, num_layers: int) -> tuple[int, ...]:
    """`all` | `none` | `` | `last:N` | `0,5,10` -> sorted layer indices (negative ones count from the end)."""
    spec = spec.strip().lower()
    if spec == "all":
        return tuple(range(num_layers))
    if spec in {"", "none"}:
        return ()
    if spec.startswith("last:"):
        n = int(spec[5:])
        return tuple(range(max(num_layers - n, 0), num_layers))
    out = sorted({int(tok) % num_layers for tok in spec.split(",") if tok.strip()})
    return tuple(out)
