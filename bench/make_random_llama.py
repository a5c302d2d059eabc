#!/usr/bin/python3
"""Writes a random-weight Llama model with TinyLlama-1.1B's shapes as a Hugging Face directory.

config.json (LlamaForCausalLM: hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV heads,
vocab 32000, untied head, rope theta 1e4, RMSNorm eps 1e-5), model.safetensors in bf16 (normal
weights of std 0.02, norms 1: the loss stays finite) and the tokenizer files copied from another
model whose vocabulary fits (default ../shared/models/tinyllama-spm-13m: Llama-2's 32000 pieces).
Used by bench/finetune_vs_torch.sh; needs only numpy. About 2.2 GB.

usage: make_random_llama.py OUT_DIR [--tokenizer-from DIR] [--seed N] [--layers N]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np


def to_bf16(x):
    """float32 -> bf16 bits, round to nearest even."""
    bits = x.view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--tokenizer-from", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "models",
                                                           "tinyllama-spm-13m"))
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--layers", type=int, default=22)
    p.add_argument("--std", type=float, default=0.02)
    a = p.parse_args()

    hidden, ffn, heads, kv_heads, vocab = 2048, 5632, 32, 4, 32000
    head_dim = hidden // heads
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
        "intermediate_size": ffn, "num_hidden_layers": a.layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "head_dim": head_dim, "vocab_size": vocab, "hidden_act": "silu",
        "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False, "bos_token_id": 1,
        "eos_token_id": 2, "torch_dtype": "bfloat16",
    }
    shapes = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(a.layers):
        b = f"model.layers.{i}."
        shapes += [
            (b + "input_layernorm.weight", (hidden,)),
            (b + "self_attn.q_proj.weight", (heads * head_dim, hidden)),
            (b + "self_attn.k_proj.weight", (kv_heads * head_dim, hidden)),
            (b + "self_attn.v_proj.weight", (kv_heads * head_dim, hidden)),
            (b + "self_attn.o_proj.weight", (hidden, heads * head_dim)),
            (b + "post_attention_layernorm.weight", (hidden,)),
            (b + "mlp.gate_proj.weight", (ffn, hidden)),
            (b + "mlp.up_proj.weight", (ffn, hidden)),
            (b + "mlp.down_proj.weight", (hidden, ffn)),
        ]
    shapes += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]

    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)

    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    tmp = os.path.join(a.out, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape in shapes:
            if name.endswith("norm.weight"):
                f.write(to_bf16(np.ones(shape, dtype=np.float32)).tobytes())
                continue
            rows = shape[0]
            for r in range(0, rows, 1024):  # in slices, to keep the temporaries small
                x = rng.standard_normal((min(1024, rows - r),) + tuple(shape[1:]), dtype=np.float32)
                x *= a.std
                f.write(to_bf16(x).tobytes())
    os.replace(tmp, os.path.join(a.out, "model.safetensors"))
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"):
        src = os.path.join(a.tokenizer_from, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(a.out, name))
    print(f"{a.out}: {sum(int(np.prod(s)) for _, s in shapes) / 1e9:.3f} B parameters, bf16")


if __name__ == "__main__":
    main()
