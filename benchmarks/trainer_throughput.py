"""Trainer throughput on the current device: tokens/s, ms/step, peak memory, MFU. Printed, never asserted.

    python benchmarks/trainer_throughput.py --preset tiny                      # CPU, seconds
    python benchmarks/trainer_throughput.py --preset record --steps 20         # one GPU, the record config

Steps are real optimizer steps of `reference_trainer.train.train_step` (Muon + AdamW, grad clip, EMA) on
random tokens, one process. FLOPs per token = 6 * (matmul parameters, incl. the tied output head)
+ 6 * layers * model_dim * seq_len (causal attention scores and values, forward + backward).
MFU divides achieved FLOP/s by the device's dense bf16 peak (H100/H200 SXM: 989 TFLOP/s, H100 PCIe: 756) on CUDA, and on
CPU by a measured fp32 matmul peak (so CPU "MFU" is relative to what this machine's BLAS reaches).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import replace

import torch

from reference_trainer.config import PRESETS, TrainConfig, load_config, parse_assignments
from reference_trainer.model import GPT, GPTConfig
from reference_trainer.optim import WeightAverage, build_optimizers
from reference_trainer.runtime import Runtime
from reference_trainer.train import attention_backend, train_step, use_compile

# Dense bf16 peaks by device-name fragment, most specific first (the PCIe and NVL H100s run lower clocks).
PEAK_BF16 = {"H100 PCIe": 756e12, "H100 NVL": 835e12, "H100": 989e12, "H200": 989e12, "A100": 312e12}


class RandomTokens:
    """Stands in for DistributedTokenLoader: same call, uniform random ids."""

    def __init__(self, vocab: int, device: torch.device) -> None:
        self.vocab, self.device = vocab, device
        self.gen = torch.Generator().manual_seed(0)

    def next_batch(self, global_tokens: int, seq_len: int, grad_accum: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.randint(0, self.vocab, (global_tokens // grad_accum // seq_len, seq_len + 1), generator=self.gen)
        ids = ids.to(self.device)
        return ids[:, :-1], ids[:, 1:]


def flops_per_token(model: GPT, cfg: TrainConfig) -> float:
    matmul = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    matmul += model.tok_emb.weight.numel()                      # tied output head
    return 6.0 * matmul + 6.0 * cfg.num_layers * cfg.model_dim * cfg.train_seq_len


def cpu_matmul_peak(n: int = 1024, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2.0 * n**3 * reps / (time.perf_counter() - t0)


def device_peak(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in PEAK_BF16.items():
            if key in name:
                return peak, f"{name} dense bf16 spec"
        return float("nan"), f"{name} (peak unknown)"
    return cpu_matmul_peak(), f"measured fp32 matmul on {os.cpu_count()} cores, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    cfg = load_config(args.preset, None, parse_assignments(args.set))
    cfg = replace(cfg, vocab_size=cfg.vocab_size or 1024)
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    rt = Runtime(0, 1, 0, device, False)
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_train_config(cfg, attention_backend(cfg, device))).to(device).train()
    compiled = torch.compile(model, dynamic=False) if use_compile(cfg, device) else model
    optimizers = build_optimizers(model, cfg)
    ema = WeightAverage(model, cfg.ema_decay)
    loader = RandomTokens(cfg.vocab_size, device)
    grad_accum = cfg.grad_accum_base

    def step() -> None:
        train_step(compiled, model, optimizers, loader, cfg, grad_accum, rt)
        ema.update(model)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens = args.steps * cfg.train_batch_tokens
    tok_s = tokens / seconds
    peak, peak_note = device_peak(device)
    mem = (torch.cuda.max_memory_allocated() >> 20 if device.type == "cuda"
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10)
    fpt = flops_per_token(model, cfg)
    print(f"device        {device} ({peak_note})")
    print(f"config        preset={args.preset} layers={cfg.num_layers} dim={cfg.model_dim} "
          f"seq={cfg.train_seq_len} batch_tokens={cfg.train_batch_tokens} grad_accum={grad_accum} "
          f"compile={use_compile(cfg, device)} attention={model.cfg.attention_backend}")
    print(f"params        {sum(p.numel() for p in model.parameters()):,}")
    print(f"steps         {args.steps} timed after {args.warmup} warm-up")
    print(f"ms/step       {1000 * seconds / args.steps:.1f}")
    print(f"tokens/s      {tok_s:,.0f}")
    print(f"peak memory   {mem} MiB ({'CUDA allocated' if device.type == 'cuda' else 'process max RSS'})")
    print(f"model FLOPs   {fpt / 1e6:.2f} MFLOP/token -> {fpt * tok_s / 1e12:.3f} TFLOP/s")
    print(f"MFU           {100 * fpt * tok_s / peak:.1f} % of {peak / 1e12:.2f} TFLOP/s")


if __name__ == "__main__":
    main()
