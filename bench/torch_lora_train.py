#!/usr/bin/python3
"""The PyTorch side of bench/finetune_vs_torch.sh: LoRA training of a Llama/Qwen2 HF model on the CPU.

Plain PyTorch (no transformers, no peft): the model is written out here (RMSNorm, rotary embedding
with the neox pairing, grouped-query attention with a causal mask, SwiGLU MLP, tied or untied
head, Qwen2's q/k/v biases) and LoRA is applied as PEFT applies it: each targeted linear layer
keeps its frozen base nn.Linear weight and adds lora_B(lora_A(dropout(x))) * alpha / r, with
lora_A Kaiming-uniform, lora_B zero, and only lora_A/lora_B requiring gradients. AdamW
(torch.optim.AdamW, weight decay 0), gradient clipping to norm 1 and slm's schedule (linear warmup
over 3% of the steps, cosine decay), as `slm finetune` does by default.

Weights come from the HF directory's safetensors (parsed here: 8-byte header length, JSON header,
raw bytes; bf16/f16 become float32). Each tensor is read with a plain read, not a memory map, so
the file's pages are not counted in this process's resident set.

The token ids are given (--ids: a file of whitespace-separated ids, e.g. `slm tokenize MODEL
--file data.txt --ids`) and cut into --seq-len pieces in order, as `slm finetune` cuts a .txt file;
the loss is the mean cross entropy of each position's next token inside its piece (the last
position of a piece predicts nothing), as slm's plain-text examples are.

Prints one JSON object: per-step seconds and tokens/s, the median tokens/s without the first
(warm-up) step, the loss of each step and ru_maxrss.
"""
import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


ALL_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# --- safetensors --------------------------------------------------------------------------------

def read_safetensors(paths):
    """Yields (name, float32 tensor) for every tensor of the files, one at a time."""
    for path in paths:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
            base = 8 + header_len
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                begin, end = info["data_offsets"]
                f.seek(base + begin)
                raw = f.read(end - begin)
                dtype, shape = info["dtype"], info["shape"]
                if dtype == "BF16":
                    bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
                    array = bits.view(np.float32)
                elif dtype == "F16":
                    array = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
                elif dtype == "F32":
                    array = np.frombuffer(raw, dtype=np.float32).copy()
                else:
                    raise SystemExit(f"{path}: tensor {name}: dtype {dtype} not supported")
                del raw
                yield name, torch.from_numpy(array.reshape(shape))


def safetensors_files(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        return [os.path.join(model_dir, name) for name in files]
    return [os.path.join(model_dir, "model.safetensors")]


# --- the model ----------------------------------------------------------------------------------

class LoraLinear(nn.Module):
    """PEFT's lora.Linear: frozen base layer + lora_B(lora_A(dropout(x))) * scaling."""

    def __init__(self, in_features, out_features, bias, r, alpha, dropout):
        super().__init__()
        self.base_layer = nn.Linear(in_features, out_features, bias=bias, device="meta")
        self.base_layer.requires_grad_(False)
        self.r = r
        if r > 0:
            self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
            self.lora_A = nn.Linear(in_features, r, bias=False)
            self.lora_B = nn.Linear(r, out_features, bias=False)
            nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B.weight)
            self.scaling = alpha / r

    def forward(self, x):
        y = self.base_layer(x)
        if self.r > 0:
            y = y + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
        return y


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, cfg, lora):
        super().__init__()
        d, h, kv, hd, ff = cfg["hidden"], cfg["heads"], cfg["kv_heads"], cfg["head_dim"], cfg["ffn"]
        self.h, self.kv, self.hd = h, kv, hd
        bias = cfg["qkv_bias"]

        def lin(name, i, o, b=False):
            r = lora["r"] if name in lora["targets"] else 0
            return LoraLinear(i, o, b, r, lora["alpha"], lora["dropout"])

        self.input_layernorm = RMSNorm(d, cfg["eps"])
        self.post_attention_layernorm = RMSNorm(d, cfg["eps"])
        self.q_proj = lin("q_proj", d, h * hd, bias)
        self.k_proj = lin("k_proj", d, kv * hd, bias)
        self.v_proj = lin("v_proj", d, kv * hd, bias)
        self.o_proj = lin("o_proj", h * hd, d)
        self.gate_proj = lin("gate_proj", d, ff)
        self.up_proj = lin("up_proj", d, ff)
        self.down_proj = lin("down_proj", ff, d)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(b, s, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(y).view(b, s, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(y).view(b, s, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv != self.h:  # transformers' repeat_kv: kv head j serves query heads j*n .. j*n+n-1
            k = k.repeat_interleave(self.h // self.kv, dim=1)
            v = v.repeat_interleave(self.h // self.kv, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch 1.13 (Debian 12): the same computation written out
            scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd)) + mask
            a = torch.matmul(torch.softmax(scores, dim=-1), v)
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, s, self.h * self.hd))
        y = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))


class Model(nn.Module):
    def __init__(self, cfg, lora):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocab"], cfg["hidden"], device="meta")
        self.layers = nn.ModuleList(Block(cfg, lora) for _ in range(cfg["layers"]))
        self.norm = RMSNorm(cfg["hidden"], cfg["eps"])
        self.lm_head = None if cfg["tied"] else nn.Linear(cfg["hidden"], cfg["vocab"], bias=False, device="meta")

    def forward(self, ids):
        s = ids.shape[1]
        hd = self.cfg["head_dim"]
        inv = 1.0 / (self.cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        angles = torch.outer(torch.arange(s, dtype=torch.float32), inv)
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        mask = torch.full((s, s), float("-inf")).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        head = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(x, head)


def read_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    arch = (c.get("architectures") or ["LlamaForCausalLM"])[0]
    heads = c["num_attention_heads"]
    rope = c.get("rope_parameters") or {}
    return {
        "arch": arch,
        "hidden": c["hidden_size"],
        "ffn": c["intermediate_size"],
        "layers": c["num_hidden_layers"],
        "heads": heads,
        "kv_heads": c.get("num_key_value_heads", heads),
        "head_dim": c.get("head_dim") or c["hidden_size"] // heads,
        "vocab": c["vocab_size"],
        "eps": c.get("rms_norm_eps", 1e-6),
        "rope_theta": rope.get("rope_theta", c.get("rope_theta", 10000.0)),
        "tied": bool(c.get("tie_word_embeddings", False)),
        "qkv_bias": arch.startswith("Qwen2") or bool(c.get("attention_bias", False)),
    }


def load_model(model_dir, lora):
    cfg = read_config(model_dir)
    model = Model(cfg, lora)
    # Base tensors are created on the meta device and replaced by the file's, so no memory is
    # spent on an initialisation that is thrown away.
    modules = dict(model.named_modules())
    seen = set()
    for name, tensor in read_safetensors(safetensors_files(model_dir)):
        key = name[len("model."):] if name.startswith("model.") else name
        key = key.replace(".self_attn.", ".").replace(".mlp.", ".")
        module_name, _, attr = key.rpartition(".")
        parts = module_name.split(".")
        if parts[-1].endswith("_proj"):
            module_name += ".base_layer"
        module = modules.get(module_name)
        if module is None or not hasattr(module, attr):
            if key == "lm_head.weight" and cfg["tied"]:
                continue
            raise SystemExit(f"unexpected tensor {name}")
        setattr(module, attr, nn.Parameter(tensor, requires_grad=False))
        seen.add(module_name + "." + attr)
    missing = [n for n, p in model.named_parameters() if p.is_meta]
    if missing:
        raise SystemExit(f"tensors missing from the checkpoint: {missing[:5]}")
    return model, cfg


def learning_rate(peak, step, total, warmup):
    """slm's default schedule (src/train/optimizer.cpp): linear warmup, then cosine to zero."""
    if step < warmup:
        return peak * step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return peak * max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="HF directory: config.json + safetensors")
    p.add_argument("--ids", required=True, help="file of whitespace-separated token ids")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=float, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--target", default="all-linear")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=float, default=0.03)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    targets = ALL_TARGETS if args.target == "all-linear" else args.target.split(",")
    lora = {"r": args.lora_r, "alpha": args.lora_alpha, "dropout": args.lora_dropout, "targets": set(targets)}

    t_load = time.perf_counter()
    model, cfg = load_model(args.model, lora)
    load_seconds = time.perf_counter() - t_load
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]

    with open(args.ids) as f:
        ids = [int(t) for t in f.read().split()]
    s, b = args.seq_len, args.batch_size
    pieces = [ids[i:i + s] for i in range(0, len(ids) - s + 1, s)]  # whole pieces only
    if len(pieces) < b:
        raise SystemExit(f"{args.ids}: {len(pieces)} pieces of {s} tokens, fewer than a batch of {b}")
    if max(ids) >= cfg["vocab"]:
        raise SystemExit(f"{args.ids}: id {max(ids)} outside the vocabulary of {cfg['vocab']}")

    optimizer = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    warmup = int(args.warmup) if args.warmup >= 1 else int(math.ceil(args.warmup * args.steps))

    steps = []
    for step in range(args.steps):
        t0 = time.perf_counter()
        first = (step * b) % (len(pieces) - b + 1)
        batch = torch.tensor(pieces[first:first + b], dtype=torch.long)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args.lr, step, args.steps, warmup)
        logits = model(batch)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, cfg["vocab"]), batch[:, 1:].reshape(-1))
        loss.backward()
        if args.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(trainable, args.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - t0
        steps.append({"step": step + 1, "loss": loss.item(), "seconds": seconds, "tokens_per_second": b * s / seconds,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})
        print(json.dumps(steps[-1]), file=sys.stderr, flush=True)

    rates = [r["tokens_per_second"] for r in steps[1:]] or [steps[0]["tokens_per_second"]]
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "load_seconds": load_seconds,
        "peak_rss_after_load_bytes": rss_after_load,
        "tokens_per_step": b * s,
        "steps": steps,
        "tokens_per_second_median": statistics.median(rates),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
