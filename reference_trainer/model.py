"""The GPT of the record lineage, bottom-up: norm, linear, rotary, attention, MLP, token mixers, block,
config, GPT.

Sources: nanoGPT (Karpathy) for the skeleton; modded-nanogpt (Keller Jordan et al.) for QK-norm,
relu^2 MLP (So et al., Primer, arXiv:2109.08668), U-Net skips, value embeddings, logit softcap (as in
Gemma 2); GQA (Ainslie et al., arXiv:2305.13245); RoPE (Su et al., arXiv:2104.09864), partial RoPE and
layer-norm scale 1/sqrt(i+1) (2026-03-21 record, PR #287 lineage); XSA, exclusive self-attention
(arXiv:2603.09078; 2026-03-20 record); SmearGate and BigramHash (2026-03-20 record), with the BOS
mask ruled mandatory on 2026-04-26 (#1797 audit; RULES EVAL-BOS-001); LeakyReLU(0.5)^2 (PR #549);
late QAT with a straight-through estimator (Bengio et al., arXiv:1308.3432); FlashAttention 3
(Shah et al., arXiv:2407.08608) when `flash_attn_interface` imports, PyTorch SDPA otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_trainer.config import TrainConfig, parse_layer_set
from reference_trainer.quant import fake_quantize_rows

try:  # FlashAttention 3 (Hopper); absent on CPU machines
    from flash_attn_interface import flash_attn_func as _fa3_func
except ImportError:  # pragma: no cover - depends on the machine
    _fa3_func = None


def fa3_available() -> bool:
    return _fa3_func is not None and torch.cuda.is_available()


class RMSNorm(nn.Module):
    """Parameter-free RMS norm (the learned gains live in the blocks' scales)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.size(-1),))


class CastedLinear(nn.Linear):
    """Bias-free linear with fp32 master weights cast to the activation dtype, plus late QAT.

    QAT is switched by the buffer `qat_flag` (0.0 or 1.0), not by a Python attribute: a compiled
    graph reads the buffer's value at run time, so flipping it changes the computation without a
    recompile (DESIGN "Known pitfalls": a class attribute is frozen into the graph at trace time).
    """

    def __init__(self, in_features: int, out_features: int, qat_bits: int = 6, zero_init: bool = False) -> None:
        super().__init__(in_features, out_features, bias=False)
        self.qat_bits = qat_bits
        self.zero_init = zero_init
        self.register_buffer("qat_flag", torch.zeros(()), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        if self.training:
            w_q = fake_quantize_rows(w.detach(), self.qat_bits)
            w = w + self.qat_flag * (w_q - w.detach())  # straight-through: d/dw = identity
        return F.linear(x, w.to(x.dtype))


def rotary_tables(seq_len: int, rope_dims: int, base: float, device: torch.device) -> tuple[Tensor, Tensor]:
    inv_freq = 1.0 / (base ** (torch.arange(0, rope_dims, 2, device=device, dtype=torch.float32) / rope_dims))
    freqs = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)  # (T, r/2)
    return freqs.cos()[None, :, None, :], freqs.sin()[None, :, None, :]                      # (1, T, 1, r/2)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor, rope_dims: int) -> Tensor:
    """Rotate the first `rope_dims` of each head (x: (B, T, H, D)); the rest pass through (partial RoPE)."""
    rot, rest = x[..., :rope_dims], x[..., rope_dims:]
    half = rope_dims // 2
    x1, x2 = rot[..., :half], rot[..., half:]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos + x2 * sin, x2 * cos - x1 * sin, rest), dim=-1)


def causal_attention(q: Tensor, k: Tensor, v: Tensor, backend: str) -> Tensor:
    """q: (B, T, H, D), k/v: (B, T, Hkv, D) -> (B, T, H, D); GQA without materializing repeated heads."""
    if backend == "fa3" and _fa3_func is not None and q.is_cuda:
        out = _fa3_func(q.bfloat16(), k.bfloat16(), v.bfloat16(), causal=True)   # FA3 takes 16-bit inputs
        return (out[0] if isinstance(out, tuple) else out).to(q.dtype)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       is_causal=True, enable_gqa=q.size(2) != k.size(2))  # (B, H, T, D)
    return y.transpose(1, 2)


def exclude_self_value(y: Tensor, v: Tensor) -> Tensor:
    """XSA: remove from each head's output its component along the position's own value vector.

    y: (B, T, H, D), v: (B, T, Hkv, D); the H query heads are grouped over the Hkv value heads.
    """
    B, T, H, D = y.shape
    y_g = y.view(B, T, v.size(2), H // v.size(2), D)            # (B, T, Hkv, G, D)
    v_n = F.normalize(v, dim=-1).unsqueeze(3)                    # (B, T, Hkv, 1, D)
    return (y_g - (y_g * v_n).sum(-1, keepdim=True) * v_n).view(B, T, H, D)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig, use_xsa: bool) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads = cfg.num_heads, cfg.num_kv_heads
        self.head_dim = cfg.model_dim // cfg.num_heads
        self.rope_dims, self.rope_base, self.use_xsa = cfg.rope_dims, cfg.rope_base, use_xsa
        self.backend = cfg.attention_backend
        kv_dim = cfg.num_kv_heads * self.head_dim
        self.c_q = CastedLinear(cfg.model_dim, cfg.model_dim, cfg.qat_bits)
        self.c_k = CastedLinear(cfg.model_dim, kv_dim, cfg.qat_bits)
        self.c_v = CastedLinear(cfg.model_dim, kv_dim, cfg.qat_bits)
        self.proj = CastedLinear(cfg.model_dim, cfg.model_dim, cfg.qat_bits, zero_init=True)
        self.q_gain = nn.Parameter(torch.full((cfg.num_heads,), cfg.qk_gain_init))

    def forward(self, x: Tensor, value_embed: Tensor | None = None) -> Tensor:
        B, T, C = x.shape
        q = self.c_q(x).view(B, T, self.num_heads, self.head_dim)       # (B, T, H, D)
        k = self.c_k(x).view(B, T, self.num_kv_heads, self.head_dim)    # (B, T, Hkv, D)
        v = self.c_v(x)
        if value_embed is not None:
            v = v + value_embed
        v = v.view(B, T, self.num_kv_heads, self.head_dim)              # (B, T, Hkv, D)
        q, k = F.rms_norm(q, (self.head_dim,)), F.rms_norm(k, (self.head_dim,))  # QK-norm
        cos, sin = rotary_tables(T, self.rope_dims, self.rope_base, x.device)
        q, k = apply_rotary(q, cos, sin, self.rope_dims), apply_rotary(k, cos, sin, self.rope_dims)
        q = q * self.q_gain.to(q.dtype)[None, None, :, None]
        y = causal_attention(q, k, v, self.backend)                     # (B, T, H, D)
        if self.use_xsa:
            y = exclude_self_value(y, v)
        return self.proj(y.reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        hidden = int(cfg.mlp_mult * cfg.model_dim)
        self.fc = CastedLinear(cfg.model_dim, hidden, cfg.qat_bits)
        self.proj = CastedLinear(hidden, cfg.model_dim, cfg.qat_bits, zero_init=True)
        self.leaky = cfg.mlp_act == "leaky2"

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc(x)                                                  # (B, T, mult*C)
        h = F.leaky_relu(h, 0.5) if self.leaky else torch.relu(h)
        return self.proj(h.square())


class SmearGate(nn.Module):
    """x_t <- (1 - g) x_t + g x_{t-1} with a learned per-channel gate g; g = 0 where the token is BOS,
    so the first token of a document never sees the previous document (ruling of 2026-04-26)."""

    def __init__(self, dim: int, bos_id: int) -> None:
        super().__init__()
        self.gate = nn.Parameter(torch.zeros(dim))
        self.bos_id = bos_id

    def forward(self, x: Tensor, input_ids: Tensor) -> Tensor:
        x_prev = torch.cat((torch.zeros_like(x[:, :1]), x[:, :-1]), dim=1)      # (B, T, C)
        not_bos = (input_ids != self.bos_id).unsqueeze(-1).to(x.dtype)         # (B, T, 1)
        g = torch.sigmoid(self.gate.to(x.dtype))[None, None, :] * not_bos
        return x + g * (x_prev - x)


class BigramHash(nn.Module):
    """Embedding of a hash of (previous token, token), projected to the model width. A BOS token and the
    first position of a window use a reserved bucket, so no pair spans a document boundary."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.buckets, self.bos_id = cfg.bigram_vocab_size, cfg.bos_id
        self.embed = nn.Embedding(cfg.bigram_vocab_size, cfg.bigram_dim)
        self.proj = CastedLinear(cfg.bigram_dim, cfg.model_dim, cfg.qat_bits, zero_init=True)
        self.scale = nn.Parameter(torch.tensor(0.05))

    def bucket_ids(self, ids: Tensor) -> Tensor:
        prev = torch.cat((torch.zeros_like(ids[:, :1]), ids[:, :-1]), dim=1)   # (B, T)
        h = ((prev * 65_537 + ids) * 2_654_435_761) % (self.buckets - 1)        # Knuth multiplicative hash
        start = torch.zeros_like(ids, dtype=torch.bool)
        start[:, 0] = True
        return torch.where(start | (ids == self.bos_id), self.buckets - 1, h)

    def forward(self, ids: Tensor) -> Tensor:
        h = self.proj(self.embed(self.bucket_ids(ids)))                         # (B, T, C)
        return h * self.scale.to(h.dtype)


class ValueEmbedding(nn.Module):
    """One token -> value-vector table shared by the chosen layers, each with its own scalar scale."""

    def __init__(self, cfg: GPTConfig, kv_dim: int, n_layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.ve_dim)
        self.proj = CastedLinear(cfg.ve_dim, kv_dim, cfg.qat_bits, zero_init=True)
        self.scale = nn.Parameter(torch.tensor(0.1))
        self.layer_scales = nn.Parameter(torch.ones(n_layers))

    def forward(self, ids: Tensor) -> Tensor:
        h = self.proj(self.embed(ids))                                          # (B, T, kv_dim)
        return h * self.scale.to(h.dtype)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig, layer: int) -> None:
        super().__init__()
        self.attn_norm, self.mlp_norm = RMSNorm(), RMSNorm()
        self.attn = CausalSelfAttention(cfg, use_xsa=layer in cfg.xsa_layer_ids)
        self.mlp = MLP(cfg)
        self.attn_scale = nn.Parameter(torch.ones(cfg.model_dim))
        self.mlp_scale = nn.Parameter(torch.ones(cfg.model_dim))
        self.resid_mix = nn.Parameter(torch.stack((torch.ones(cfg.model_dim), torch.zeros(cfg.model_dim))))
        self.ln_factor = 1.0 / math.sqrt(layer + 1) if cfg.ln_scale else 1.0

    def forward(self, x: Tensor, x0: Tensor, value_embed: Tensor | None) -> Tensor:
        mix = self.resid_mix.to(x.dtype)
        x = mix[0] * x + mix[1] * x0                    # learned blend with the embedding stream x0
        x = x + self.attn_scale.to(x.dtype) * self.attn(self.attn_norm(x) * self.ln_factor, value_embed)
        return x + self.mlp_scale.to(x.dtype) * self.mlp(self.mlp_norm(x) * self.ln_factor)


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 1024
    num_layers: int = 11
    model_dim: int = 512
    num_heads: int = 8
    num_kv_heads: int = 4
    mlp_mult: float = 3.0
    mlp_act: str = "relu2"
    logit_softcap: float = 30.0
    tied_embed_init_std: float = 0.005
    rope_base: float = 10000.0
    rope_dims: int = 16
    qk_gain_init: float = 1.5
    ln_scale: bool = True
    xsa_layers: str = "all"
    smear_gate: bool = True
    bos_id: int = 1
    bigram_vocab_size: int = 2048
    bigram_dim: int = 128
    ve_dim: int = 128
    ve_layers: str = "9,10"
    qat_bits: int = 6                 # = TrainConfig.quant_bits
    attention_backend: str = "sdpa"   # resolved from TrainConfig.attention: fa3 | sdpa

    @classmethod
    def from_train_config(cls, cfg: TrainConfig, attention_backend: str = "sdpa") -> GPTConfig:
        shared = {f.name: getattr(cfg, f.name) for f in fields(cls) if hasattr(cfg, f.name)}
        return cls(**shared, qat_bits=cfg.quant_bits, attention_backend=attention_backend)

    @property
    def xsa_layer_ids(self) -> tuple[int, ...]:
        return parse_layer_set(self.xsa_layers, self.num_layers)

    @property
    def ve_layer_ids(self) -> tuple[int, ...]:
        return parse_layer_set(self.ve_layers, self.num_layers) if self.ve_dim > 0 else ()


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        if cfg.model_dim % cfg.num_heads or cfg.num_heads % cfg.num_kv_heads:
            raise ValueError("model_dim must divide into num_heads, and num_heads into num_kv_heads")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.model_dim)   # tied: also the output head
        self.bigram = BigramHash(cfg) if cfg.bigram_vocab_size > 0 else None
        self.smear = SmearGate(cfg.model_dim, cfg.bos_id) if cfg.smear_gate else None
        self.blocks = nn.ModuleList([Block(cfg, i) for i in range(cfg.num_layers)])
        self.num_encoder = cfg.num_layers // 2                         # U-Net: first half feeds skips
        self.skip_weights = nn.Parameter(torch.ones(cfg.num_layers - self.num_encoder, cfg.model_dim))
        kv_dim = cfg.num_kv_heads * (cfg.model_dim // cfg.num_heads)
        self.ve_slot = {layer: i for i, layer in enumerate(cfg.ve_layer_ids)}
        self.value_embed = ValueEmbedding(cfg, kv_dim, len(self.ve_slot)) if self.ve_slot else None
        self.final_norm = RMSNorm()
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.tok_emb.weight, std=self.cfg.tied_embed_init_std)
        for module in self.modules():
            if isinstance(module, CastedLinear):
                if module.zero_init:
                    nn.init.zeros_(module.weight)
                else:
                    nn.init.orthogonal_(module.weight)
        if self.bigram is not None:
            nn.init.zeros_(self.bigram.embed.weight)
        if self.value_embed is not None:
            nn.init.normal_(self.value_embed.embed.weight, std=0.01)

    def set_qat(self, enabled: bool) -> None:
        """Switch late QAT on or off for every CastedLinear (in-place buffer write, graph-visible)."""
        for module in self.modules():
            if isinstance(module, CastedLinear):
                module.qat_flag.fill_(1.0 if enabled else 0.0)

    def forward_hidden(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> final normed hidden states (B, T, C)."""
        x = self.tok_emb(ids)                                          # (B, T, C)
        if self.bigram is not None:
            x = x + self.bigram(ids)
        x = F.rms_norm(x, (x.size(-1),))
        if self.smear is not None:
            x = self.smear(x, ids)
        x0 = x
        ve = self.value_embed(ids) if self.value_embed is not None else None  # (B, T, kv_dim)
        skips: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            if i >= self.num_encoder and skips:
                x = x + self.skip_weights[i - self.num_encoder].to(x.dtype) * skips.pop()
            slot = self.ve_slot.get(i)
            layer_ve = ve * self.value_embed.layer_scales[slot].to(ve.dtype) if slot is not None else None
            x = block(x, x0, layer_ve)
            if i < self.num_encoder:
                skips.append(x)
        return self.final_norm(x)

    def forward_logits(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> soft-capped logits (B, T, V): a full distribution at every position."""
        logits = F.linear(self.forward_hidden(ids), self.tok_emb.weight)  # tied output head
        c = self.cfg.logit_softcap
        return c * torch.tanh(logits / c)

    def forward(self, ids: Tensor, targets: Tensor) -> Tensor:
        """Mean next-token cross-entropy (nats) of `targets` (B, T)."""
        logits = self.forward_logits(ids)
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))
