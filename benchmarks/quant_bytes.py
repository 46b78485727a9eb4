"""Artifact bytes vs the entropy bound, and the post-quantization BPB gap, per quantizer. Printed only.

    pgolf-train run --data DATA --preset tiny --out runs/tiny        # any run leaves final_model.pt
    python benchmarks/quant_bytes.py --checkpoint runs/tiny/final_model.pt --data DATA
    python benchmarks/quant_bytes.py --checkpoint runs/seed42/final_model.pt --data data/sp1024 --stride 64

For each method (row-max rounding, GPTQ-lite clip search, GPTQ with training-data Hessians, GPTQ with
self-generated Hessians) and bit width: zstd-22 artifact bytes (model part), the order-0 entropy of the
stored symbols plus the raw side bytes (scales, fp16 tensors), their ratio, the quantization time, and
val BPB of the dequantized model minus the checkpoint's BPB (same windows).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import sentencepiece as spm
import torch

from reference_trainer.artifact import dequantize_state, entropy_report, quant_plan, quantize_state, serialize
from reference_trainer.calibrate import batched, collect_hessians, generate_samples
from reference_trainer.config import TrainConfig
from reference_trainer.data import DistributedTokenLoader, load_tokens, shard_files
from reference_trainer.evaluate import build_byte_tables, evaluate
from reference_trainer.model import GPT, GPTConfig


def load_checkpoint(path: Path, device: torch.device) -> tuple[GPT, TrainConfig, dict[str, torch.Tensor]]:
    ckpt = torch.load(path, map_location="cpu")
    cfg = TrainConfig(**ckpt["config"])
    model = GPT(GPTConfig(**{**ckpt["gpt_config"], "attention_backend": "sdpa"})).to(device)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), cfg, {k: v.float().cpu() for k, v in ckpt["state_dict"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="final_model.pt of a run")
    parser.add_argument("--data", type=Path, required=True, help="data directory of that run")
    parser.add_argument("--bits", type=int, nargs="+", default=[6])
    parser.add_argument("--stride", type=int, default=0, help="sliding stride (0: non-overlapping windows)")
    parser.add_argument("--val-tokens", type=int, default=0, help="score only the first N tokens (0: all)")
    args = parser.parse_args()
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    model, cfg, state = load_checkpoint(args.checkpoint, device)
    sp = spm.SentencePieceProcessor(model_file=str(args.data / "tokenizer.model"))
    tables = build_byte_tables(sp, cfg.vocab_size)
    val = load_tokens(shard_files(args.data, "val"))
    val = val[:args.val_tokens + 1] if args.val_tokens else val
    stride = args.stride or cfg.eval_seq_len

    def bpb(m: GPT) -> float:
        return evaluate(m.forward_logits, val, tables, cfg.eval_seq_len, stride, device, cfg.eval_batch_seqs).bpb

    base_bpb = bpb(model)
    t0 = time.perf_counter()
    loader = DistributedTokenLoader(shard_files(args.data, "train"), 0, 1, device)
    calib = max(cfg.calib_tokens // cfg.train_seq_len, 1) * cfg.train_seq_len
    x, _ = loader.next_batch(calib, cfg.train_seq_len, 1)
    h_train = collect_hessians(model, batched(x, cfg.eval_batch_seqs), device)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    samples = generate_samples(model, cfg.selfgen_seqs, cfg.selfgen_len, cfg.selfgen_temperature, device)
    h_self = collect_hessians(model, batched(samples, cfg.eval_batch_seqs), device)
    t_self = time.perf_counter() - t0
    print(f"checkpoint {args.checkpoint}  params {sum(v.numel() for v in state.values()):,}  device {device}")
    print(f"pre-quant val_bpb {base_bpb:.6f} over {val.numel() - 1} tokens (seq {cfg.eval_seq_len}, stride {stride})")
    print(f"calibration: train data {calib} tokens {t_train:.1f}s; self-generated {cfg.selfgen_seqs}x"
          f"{cfg.selfgen_len} tokens {t_self:.1f}s")
    header = f"{'method':<16}{'bits':>5}{'model_bytes':>13}{'entropy+side':>14}{'ratio':>8}{'quant_s':>9}" \
             f"{'val_bpb':>11}{'gap':>10}"
    print(header)
    print("-" * len(header))
    methods = [("rtn", None), ("gptq_lite", None), ("gptq/train", h_train), ("gptq/selfgen", h_self)]
    for bits in args.bits:
        plan = quant_plan(model, bits, max(bits, 8))
        for name, hessians in methods:
            t0 = time.perf_counter()
            tensors = quantize_state(state, plan, name.split("/")[0], hessians, cfg.gptq_block_size, cfg.gptq_damp,
                                     device=device)
            seconds = time.perf_counter() - t0
            blob = serialize(tensors, {"gpt_config": {}}, cfg.zstd_level)
            rep = entropy_report(tensors, len(blob))
            qmodel = GPT(replace(model.cfg)).to(device)
            qmodel.load_state_dict({k: v.to(device) for k, v in dequantize_state(tensors).items()})
            q_bpb = bpb(qmodel.eval())
            print(f"{name:<16}{bits:>5}{len(blob):>13,}{rep.entropy_bytes + rep.side_bytes:>14,}{rep.overhead:>8.3f}"
                  f"{seconds:>9.1f}{q_bpb:>11.6f}{q_bpb - base_bpb:>+10.6f}")


if __name__ == "__main__":
    main()
