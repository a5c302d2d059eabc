#!/usr/bin/env python3
# The PyTorch side of bench/embed_vs_torch.sh, with Debian's python3-torch only (no transformers).
#
#   embed_vs_torch.py make DIR TEXTS   a random-weight BertModel of bge-small's shape (12 layers,
#                                      hidden 384, 12 heads, 1536 intermediate, vocab 30522) as a
#                                      sentence-transformers directory (CLS pooling + Normalize),
#                                      and TEXTS: 128 lowercase texts of 20 to 200 vocabulary words
#   embed_vs_torch.py run DIR TEXTS THREADS [--check OUT.npy]
#                                      BERT's forward written in torch, run as sentence-transformers
#                                      runs it (texts sorted by length, batches of 32 padded to their
#                                      longest, an attention mask), timed; prints "torch texts/s N";
#                                      with --check, the largest difference from slm's vectors.
#
# Every text is whole vocabulary words separated by spaces, so that splitting on spaces gives the
# WordPiece ids slm's tokenizer gives; tokenizing is not timed on the torch side (slm's figure
# includes it).
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

LAYERS, HIDDEN, HEADS, FFN, VOCAB, POSITIONS = 12, 384, 12, 1536, 30522, 512
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
N_TEXTS = 128


def vocabulary():
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "vi", "ro", "pe", "du", "fa", "gi", "ho", "je", "bu", "co"]
    words = []
    for a in syllables:
        for b in syllables:
            for c in syllables:
                words.append(a + b + c)
    words = words[: VOCAB - len(SPECIALS)]
    while len(words) < VOCAB - len(SPECIALS):
        words.append("w%d" % len(words))
    return SPECIALS + words


def tensors(seed=0):
    g = np.random.default_rng(seed)
    r = lambda *shape: (0.05 * g.standard_normal(shape)).astype(np.float32)
    ones = lambda n: (1 + 0.05 * g.standard_normal(n)).astype(np.float32)
    t = {"embeddings.word_embeddings.weight": r(VOCAB, HIDDEN),
         "embeddings.position_embeddings.weight": r(POSITIONS, HIDDEN),
         "embeddings.token_type_embeddings.weight": r(2, HIDDEN),
         "embeddings.LayerNorm.weight": ones(HIDDEN), "embeddings.LayerNorm.bias": r(HIDDEN)}
    for l in range(LAYERS):
        p = "encoder.layer.%d." % l
        for name, rows, cols in [("attention.self.query", HIDDEN, HIDDEN), ("attention.self.key", HIDDEN, HIDDEN),
                                 ("attention.self.value", HIDDEN, HIDDEN), ("attention.output.dense", HIDDEN, HIDDEN),
                                 ("intermediate.dense", FFN, HIDDEN), ("output.dense", HIDDEN, FFN)]:
            t[p + name + ".weight"] = r(rows, cols)
            t[p + name + ".bias"] = r(rows)
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"]:
            t[p + norm + ".weight"] = ones(HIDDEN)
            t[p + norm + ".bias"] = r(HIDDEN)
    return t


def write_safetensors(path, t):
    header, offset = {}, 0
    for name, a in t.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for a in t.values():
            f.write(a.tobytes())


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: torch.from_numpy(np.frombuffer(data, np.float32, int(np.prod(v["shape"])), v["data_offsets"][0]).reshape(v["shape"]).copy())
            for k, v in header.items() if k != "__metadata__"}


def make(model_dir, texts_path):
    os.makedirs(os.path.join(model_dir, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(model_dir, "2_Normalize"), exist_ok=True)
    vocab = vocabulary()
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": VOCAB, "hidden_size": HIDDEN,
              "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": FFN,
              "max_position_embeddings": POSITIONS, "type_vocab_size": 2, "hidden_act": "gelu",
              "layer_norm_eps": 1e-12, "pad_token_id": 0}
    json.dump(config, open(os.path.join(model_dir, "config.json"), "w"), indent=1)
    write_safetensors(os.path.join(model_dir, "model.safetensors"), tensors())
    tokenizer = {"version": "1.0", "truncation": None, "padding": None,
                 "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                                   "normalized": False, "special": True} for i, s in enumerate(SPECIALS)],
                 "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                                "strip_accents": None, "lowercase": True},
                 "pre_tokenizer": {"type": "BertPreTokenizer"},
                 "post_processor": {"type": "TemplateProcessing",
                                    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                                    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                             {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                                             {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                                    "special_tokens": {s: {"id": s, "ids": [i], "tokens": [s]} for i, s in enumerate(SPECIALS) if s in ("[CLS]", "[SEP]")}},
                 "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                           "max_input_chars_per_word": 100, "vocab": {w: i for i, w in enumerate(vocab)}}}
    json.dump(tokenizer, open(os.path.join(model_dir, "tokenizer.json"), "w"))
    json.dump({"model_max_length": POSITIONS, "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
               "unk_token": "[UNK]", "mask_token": "[MASK]"}, open(os.path.join(model_dir, "tokenizer_config.json"), "w"))
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(model_dir, "modules.json"), "w"))
    json.dump({"word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False},
              open(os.path.join(model_dir, "1_Pooling", "config.json"), "w"))
    json.dump({"max_seq_length": POSITIONS, "do_lower_case": False}, open(os.path.join(model_dir, "sentence_bert_config.json"), "w"))
    rng = np.random.default_rng(1)
    words = vocab[len(SPECIALS):]
    with open(texts_path, "w") as f:
        for _ in range(N_TEXTS):
            n = int(rng.integers(20, 200))
            f.write(" ".join(words[int(i)] for i in rng.integers(0, len(words), n)) + "\n")


def forward(t, ids, mask):
    # ids, mask: [B, L]; returns the [CLS] rows, normalised: [B, D]
    B, L = ids.shape
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:L] + \
        t["embeddings.token_type_embeddings.weight"][0]
    x = F.layer_norm(x, (HIDDEN,), t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], 1e-12)
    bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    dh = HIDDEN // HEADS
    for l in range(LAYERS):
        p = "encoder.layer.%d." % l
        lin = lambda name, v: F.linear(v, t[p + name + ".weight"], t[p + name + ".bias"])
        split = lambda v: v.view(B, L, HEADS, dh).transpose(1, 2)
        q, k, v = split(lin("attention.self.query", x)), split(lin("attention.self.key", x)), split(lin("attention.self.value", x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, L, HIDDEN)
        x = F.layer_norm(x + lin("attention.output.dense", ctx), (HIDDEN,), t[p + "attention.output.LayerNorm.weight"],
                         t[p + "attention.output.LayerNorm.bias"], 1e-12)
        h = F.gelu(lin("intermediate.dense", x))
        x = F.layer_norm(x + lin("output.dense", h), (HIDDEN,), t[p + "output.LayerNorm.weight"],
                         t[p + "output.LayerNorm.bias"], 1e-12)
    return F.normalize(x[:, 0], dim=-1)


def run(model_dir, texts_path, threads, check=None):
    torch.set_num_threads(threads)
    t = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    vocab = {w: i for i, w in enumerate(vocabulary())}
    texts = [line.rstrip("\n") for line in open(texts_path)]
    start = time.perf_counter()
    ids = [[2] + [vocab[w] for w in s.split()][: POSITIONS - 2] + [3] for s in texts]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = torch.zeros(len(ids), HIDDEN)
    with torch.inference_mode():
        for b in range(0, len(order), 32):
            batch = order[b:b + 32]
            L = max(len(ids[i]) for i in batch)
            x = torch.zeros(len(batch), L, dtype=torch.long)
            mask = torch.zeros(len(batch), L, dtype=torch.long)
            for r, i in enumerate(batch):
                x[r, :len(ids[i])] = torch.tensor(ids[i])
                mask[r, :len(ids[i])] = 1
            out[batch] = forward(t, x, mask)
    seconds = time.perf_counter() - start
    print("torch texts/s %.2f" % (len(texts) / seconds))
    if check:
        ours = np.load(check)
        print("max |slm - torch| %.2e" % float(np.abs(ours - out.numpy()).max()))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--check" else None)
