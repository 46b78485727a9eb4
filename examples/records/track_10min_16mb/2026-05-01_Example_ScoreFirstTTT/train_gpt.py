"""Example submission for pgolf-audit: an 11-layer GPT with score-first test-time training.

Every validation chunk is scored under no_grad before the model trains on it (legal, README 2026-03-20).
Run: SEED=42 TTT_ENABLED=1 torchrun --standalone --nproc_per_node=8 train_gpt.py
"""
import glob
import io
import math
import os
import time
import zlib

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F


class Hyperparameters:
    data_path = os.environ.get("DATA_PATH", "./data/datasets/fineweb10B_sp1024")
    train_files = os.path.join(data_path, "fineweb_train_*.bin")
    val_files = os.path.join(data_path, "fineweb_val_*.bin")
    tokenizer_path = os.environ.get("TOKENIZER_PATH", "./data/tokenizers/fineweb_1024_bpe.model")
    seed = int(os.environ.get("SEED", 1337))
    vocab_size = int(os.environ.get("VOCAB_SIZE", 1024))
    model_dim = int(os.environ.get("MODEL_DIM", 512))
    num_layers = int(os.environ.get("NUM_LAYERS", 9))
    num_heads = int(os.environ.get("NUM_HEADS", 8))
    train_seq_len = int(os.environ.get("TRAIN_SEQ_LEN", 1024))
    train_batch_tokens = int(os.environ.get("TRAIN_BATCH_TOKENS", 524288))
    iterations = int(os.environ.get("ITERATIONS", 20000))
    max_wallclock_seconds = float(os.environ.get("MAX_WALLCLOCK_SECONDS", 600.0))
    matrix_lr = float(os.environ.get("MATRIX_LR", 0.02))
    ttt_enabled = bool(int(os.environ.get("TTT_ENABLED", "1")))
    ttt_lr = float(os.environ.get("TTT_LR", 0.002))
    ttt_epochs = int(os.environ.get("TTT_EPOCHS", 3))
    ttt_chunk_tokens = int(os.environ.get("TTT_CHUNK_TOKENS", 32768))
    eval_stride = int(os.environ.get("EVAL_STRIDE", 64))

def load_data_shard(path):
    header = np.fromfile(path, dtype="<i4", count=256)
    assert int(header[0]) == 20240520, f"bad magic in {path}"
    body = np.fromfile(path, dtype="<u2", count=int(header[2]), offset=256 * 4)
    return torch.from_numpy(body.astype(np.int64))


def load_validation_tokens(pattern, seq_len):
    tokens = torch.cat([load_data_shard(f) for f in sorted(glob.glob(pattern))])
    usable = ((tokens.numel() - 1) // seq_len) * seq_len
    return tokens[: usable + 1]


class TokenStream:
    def __init__(self, pattern):
        self.files, self.file_idx, self.pos = sorted(glob.glob(pattern)), 0, 0
        self.tokens = load_data_shard(self.files[0])

    def take(self, n):
        if self.pos + n > self.tokens.numel():
            self.file_idx = (self.file_idx + 1) % len(self.files)
            self.tokens, self.pos = load_data_shard(self.files[self.file_idx]), 0
        self.pos += n
        return self.tokens[self.pos - n : self.pos]


def build_byte_luts(sp, vocab_size, device):
    base = torch.zeros(vocab_size, dtype=torch.int16)
    space = torch.zeros(vocab_size, dtype=torch.bool)
    boundary = torch.ones(vocab_size, dtype=torch.bool)
    for tid in range(sp.vocab_size()):
        if sp.is_control(tid) or sp.is_unknown(tid) or sp.is_unused(tid):
            continue
        boundary[tid] = False
        piece = sp.id_to_piece(tid)
        space[tid] = piece.startswith("▁") and not sp.is_byte(tid)
        base[tid] = 1 if sp.is_byte(tid) else len(piece.lstrip("▁").encode("utf-8"))
    return base.to(device), space.to(device), boundary.to(device)


class GPT(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.tok_emb = nn.Embedding(args.vocab_size, args.model_dim)
        layer = nn.TransformerEncoderLayer(args.model_dim, args.num_heads, 4 * args.model_dim, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, args.num_layers)
        self.norm = nn.LayerNorm(args.model_dim)

    def forward_logits(self, idx):
        mask = nn.Transformer.generate_square_subsequent_mask(idx.size(1), device=idx.device)
        x = self.blocks(self.tok_emb(idx), mask=mask, is_causal=True)
        return self.norm(x) @ self.tok_emb.weight.t()

    def forward(self, idx, targets):
        logits = self.forward_logits(idx)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))


def eval_val(args, model, val_tokens, base_bytes, has_space, is_boundary, device):
    seq_len = args.train_seq_len
    n_seqs = (val_tokens.numel() - 1) // seq_len
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    tok_count = torch.zeros((), dtype=torch.float64, device=device)
    byte_count = torch.zeros((), dtype=torch.float64, device=device)
    model.eval()
    with torch.inference_mode():
        for s in range(0, n_seqs, 32):
            e = min(s + 32, n_seqs)
            chunk = val_tokens[s * seq_len : e * seq_len + 1].to(device)
            x = chunk[:-1].reshape(-1, seq_len)
            y = chunk[1:].reshape(-1, seq_len)
            logits = model.forward_logits(x)
            nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), reduction="none")
            loss_sum += nll.double().sum()
            tok_count += y.numel()
            byte_count += (base_bytes[y].double() + (has_space[y] & ~is_boundary[x]).double()).sum()
    model.train()
    val_loss = (loss_sum / tok_count).item()
    return val_loss, val_loss / math.log(2.0) * (tok_count / byte_count).item()


def quantize_int8(state_dict):
    packed = {}
    for name, t in state_dict.items():
        t = t.detach().float().cpu()
        scale = t.abs().amax(dim=-1, keepdim=True).clamp_min(1e-8) / 127.0
        packed[name] = (torch.round(t / scale).to(torch.int8), scale.half())
    buf = io.BytesIO()
    torch.save(packed, buf)
    return zlib.compress(buf.getvalue(), 9)


def dequantize_int8(blob):
    packed = torch.load(io.BytesIO(zlib.decompress(blob)))
    return {k: q.float() * sc.float() for k, (q, sc) in packed.items()}


def train_loop(args, model, cap_ms, device):
    stream = TokenStream(args.train_files)
    opt = torch.optim.AdamW(model.parameters(), lr=args.matrix_lr, betas=(0.9, 0.95), weight_decay=0.0)
    rows = args.train_batch_tokens // args.train_seq_len
    t0 = time.perf_counter()
    step = 0
    while step < args.iterations:
        chunk = stream.take(rows * args.train_seq_len + 1).to(device)
        x = chunk[:-1].reshape(rows, args.train_seq_len)
        y = chunk[1:].reshape(rows, args.train_seq_len)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        elapsed_ms = 1000.0 * (time.perf_counter() - t0)
        if elapsed_ms >= cap_ms:
            print(f"stopping_early: wallclock_cap train_time:{elapsed_ms:.0f}ms step:{step}/{args.iterations}")
            break
    return model


def eval_val_sliding_ttt(args, model, val_tokens, base_bytes, has_space, is_boundary, device):
    seq_len, stride, chunk = args.train_seq_len, args.eval_stride, args.ttt_chunk_tokens
    total = val_tokens.numel() - 1
    starts = [ws for ws in range(0, total, stride) if ws + seq_len - stride < total]
    n_chunks = (total + chunk - 1) // chunk
    by_chunk = [[] for _ in range(n_chunks)]
    for ws in starts:
        first_scored = ws if ws == 0 else ws + seq_len - stride
        by_chunk[min(first_scored // chunk, n_chunks - 1)].append(ws)
    opt = torch.optim.SGD(model.parameters(), lr=args.ttt_lr, momentum=0.9)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    tok_count = torch.zeros((), dtype=torch.float64, device=device)
    byte_count = torch.zeros((), dtype=torch.float64, device=device)
    for ci in range(n_chunks):
        model.eval()
        with torch.no_grad():
            for ws in by_chunk[ci]:
                end = min(ws + seq_len, total)
                win = val_tokens[ws : end + 1].to(device)
                x, y = win[:-1].unsqueeze(0), win[1:].unsqueeze(0)
                nll = F.cross_entropy(model.forward_logits(x)[0].float(), y[0], reduction="none")
                s = 0 if ws == 0 else max(end - ws - stride, 0)
                loss_sum += nll[s:].double().sum()
                tok_count += end - ws - s
                byte_count += (base_bytes[y[0, s:]].double() + (has_space[y[0, s:]] & ~is_boundary[x[0, s:]]).double()).sum()
        c0, c1 = ci * chunk, min((ci + 1) * chunk, total)
        n_seq = (c1 - c0) // seq_len
        if ci == n_chunks - 1 or n_seq == 0:
            continue
        model.train()
        for g in opt.param_groups:
            g["lr"] = args.ttt_lr * 0.5 * (1.0 + math.cos(math.pi * ci / max(n_chunks - 1, 1)))
        for _ in range(args.ttt_epochs):
            for b in range(0, n_seq, 16):
                seg = val_tokens[c0 + b * seq_len : c0 + min(b + 16, n_seq) * seq_len + 1].to(device)
                loss = model(seg[:-1].view(-1, seq_len), seg[1:].view(-1, seq_len))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
    val_loss = (loss_sum / tok_count).item()
    return val_loss, val_loss / math.log(2.0) * (tok_count / byte_count).item()


def main():
    args = Hyperparameters()
    torch.manual_seed(args.seed)
    device = torch.device("cuda")
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer_path)
    val_tokens = load_validation_tokens(args.val_files, args.train_seq_len)
    luts = build_byte_luts(sp, args.vocab_size, device)
    model = train_loop(args, GPT(args).to(device), 1000.0 * args.max_wallclock_seconds, device)
    blob = quantize_int8(model.state_dict())
    with open("final_model.int8.ptz", "wb") as f:
        f.write(blob)
    eval_model = GPT(args).to(device)
    eval_model.load_state_dict(dequantize_int8(blob))
    q_loss, q_bpb = eval_val(args, eval_model, val_tokens, *luts, device)
    print(f"final_int8_zlib_roundtrip_exact val_loss:{q_loss:.8f} val_bpb:{q_bpb:.8f}")
    if args.ttt_enabled:
        ttt_model = GPT(args).to(device)
        ttt_model.load_state_dict(dequantize_int8(blob))
        t_loss, t_bpb = eval_val_sliding_ttt(args, ttt_model, val_tokens, *luts, device)
        print(f"legal_ttt_exact val_loss:{t_loss:.8f} val_bpb:{t_bpb:.8f}")


if __name__ == "__main__":
    main()
