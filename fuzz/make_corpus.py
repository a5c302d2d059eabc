#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from ../shared into fuzz/corpus-<target>/ (git-ignored).

GGUF seeds: each shared GGUF rewritten small (arrays cut to a few items, at most three small
tensors kept) plus the first bytes of each file. safetensors seeds: a few small tensors of each
shared model. config seeds: the shared JSON configs, each behind the byte that selects its parser.
train_data seeds: one JSONL line each, of every example format (SQuAD chat, Alpaca seed tasks).
teacher_cache seeds: small valid teacher top-k caches (format: src/train/teacher_cache.h).
Standard library only."""
import json
import math
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SLM_SHARED_DIR", os.path.join(HERE, "..", "..", "shared"))
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}
BLOCK = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2)}  # ggml type -> (block size, block bytes)


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        value = struct.unpack_from("<" + fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize("<" + fmt)
        return value

    def string(self):
        n = self.take("Q")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s

    def value(self, t, keep):
        """Reads a value of type t; arrays keep at most `keep` items. Returns its encoding."""
        if t == 8:
            s = self.string()
            return struct.pack("<Q", len(s)) + s
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            items = [self.value(et, keep) for _ in range(n)][:keep]
            return struct.pack("<IQ", et, len(items)) + b"".join(items)
        raw = struct.pack("<" + SCALAR[t], self.take(SCALAR[t]))
        return raw


def small_gguf(path, keep=4, max_tensors=3):
    data = open(path, "rb").read()
    r = Reader(data)
    assert r.data[:4] == b"GGUF"
    r.pos = 4
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    kvs = []
    for _ in range(n_kv):
        key = r.string()
        t = r.take("I")
        kvs.append(struct.pack("<Q", len(key)) + key + struct.pack("<I", t) + r.value(t, keep))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("I")
        ne = [r.take("Q") for _ in range(nd)]
        t, off = r.take("I"), r.take("Q")
        infos.append((name, ne, t, off))
    align = 32
    data_start = (r.pos + align - 1) // align * align
    kept = []
    for name, ne, t, off in infos:
        if t in BLOCK and len(kept) < max_tensors:
            count = 1
            for d in ne:
                count *= d
            nbytes = count // BLOCK[t][0] * BLOCK[t][1]
            if nbytes <= 4096:
                kept.append((name, ne, t, data[data_start + off:data_start + off + nbytes]))
    out = b"GGUF" + struct.pack("<IQQ", version, len(kept), len(kvs)) + b"".join(kvs)
    offset, blobs = 0, []
    for name, ne, t, blob in kept:
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", t, offset)
        padded = blob + b"\0" * ((align - len(blob) % align) % align)
        blobs.append(padded)
        offset += len(padded)
    if kept:
        out += b"\0" * ((align - len(out) % align) % align) + b"".join(blobs)
    return out


def small_safetensors(path, max_tensors=3):
    data = open(path, "rb").read()
    n = struct.unpack_from("<Q", data)[0]
    header = json.loads(data[8:8 + n])
    body = 8 + n
    picked = sorted((v["data_offsets"][1] - v["data_offsets"][0], k) for k, v in header.items() if k != "__metadata__")
    out_header = {"__metadata__": header.get("__metadata__", {})}
    blobs, offset = [], 0
    for size, name in picked[:max_tensors]:
        info = header[name]
        begin, end = info["data_offsets"]
        blobs.append(data[body + begin:body + end])
        out_header[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(folder, name, blob):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(blob)


def train_data_seeds(folder):
    datasets = os.path.join(SHARED, "datasets")
    with open(os.path.join(datasets, "squad-v1.1", "chat-train.jsonl"), "rb") as f:
        for i, line in zip(range(4), f):
            write(folder, f"squad-chat-{i}.jsonl", line.rstrip(b"\n"))
    with open(os.path.join(datasets, "alpaca-seed-tasks", "seed_tasks.jsonl"), encoding="utf-8") as f:
        for i, line in zip(range(4), f):
            task = json.loads(line)
            example = dict(instruction=task["instruction"], **task["instances"][0])
            write(folder, f"alpaca-{i}.jsonl", json.dumps(example).encode())
    write(folder, "text.jsonl", json.dumps({"text": "Once upon a time\nthere was a byte: \u00e9."}).encode())
    write(folder, "prompt-completion.jsonl", json.dumps({"prompt": "2+2=", "completion": "4"}).encode())
    messages = [{"role": r, "content": c} for r, c in
                (("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello."), ("user", "Bye"), ("assistant", "Bye."))]
    write(folder, "messages.jsonl", json.dumps({"messages": messages}).encode())


def teacher_cache(vocab, k, rows_per_example, max_seq_len=8, temperature=2.0):
    """A valid teacher cache, version 2: each row the top k of made-up logits, sorted, ids
    distinct, then each row's log-sum-exp over all `vocab` logits at `temperature`, then 4 bytes
    of padding after an odd row count."""
    header = {"teacher_fingerprint": "0123456789abcdef", "teacher": "seed-teacher", "vocab_size": vocab, "k": k,
              "examples": len(rows_per_example), "max_seq_len": max_seq_len, "data_fingerprint": "00000000deadbeef",
              "temperature": temperature}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    out = b"SLMTOPK\0" + struct.pack("<II", 2, len(text)) + text
    table, first = b"", 0
    for e, rows in enumerate(rows_per_example):
        ids, logits, lse = [], [], []
        for r in range(rows):
            full = [float((i * 7 + e + r) % 5) for i in range(vocab)]
            row = sorted(((v, i) for i, v in enumerate(full)), key=lambda x: (-x[0], x[1]))[:k]
            ids += [i for _, i in row]
            logits += [v for v, _ in row]
            top = max(full) / temperature
            lse.append(top + math.log(sum(math.exp(v / temperature - top) for v in full)))
        out += struct.pack(f"<{len(ids)}i", *ids) + struct.pack(f"<{len(logits)}f", *logits)
        out += struct.pack(f"<{len(lse)}f", *lse) + b"\0" * (4 * (rows % 2))
        table += struct.pack("<QQ", first, rows)
        first += rows
    return out + table


def teacher_cache_seeds(folder):
    write(folder, "small.cache", teacher_cache(50, 4, [2, 0, 3]))
    write(folder, "one-row.cache", teacher_cache(3, 3, [1], max_seq_len=1))
    write(folder, "empty.cache", teacher_cache(10, 2, []))
    write(folder, "every-id.cache", teacher_cache(5, 5, [1, 2], temperature=1.0))


def main():
    if not os.path.isdir(os.path.join(SHARED, "models")):
        sys.exit(f"no shared models at {SHARED}")
    ggufs, models = [], []
    for sub in ("models", "vocab-tests"):
        for root, _, files in os.walk(os.path.join(SHARED, sub)):
            ggufs += [os.path.join(root, f) for f in sorted(files) if f.endswith(".gguf")]
            if "config.json" in files:
                models.append(root)
    for path in ggufs:
        base = os.path.basename(path)
        write(os.path.join(HERE, "corpus-gguf"), base, small_gguf(path))
        write(os.path.join(HERE, "corpus-gguf"), base + ".prefix", open(path, "rb").read()[:4096])
    for model in models:
        base = os.path.basename(model)
        write(os.path.join(HERE, "corpus-safetensors"), base + ".safetensors",
              small_safetensors(os.path.join(model, "model.safetensors")))
        for selector, name in enumerate(("config.json", "generation_config.json", "tokenizer_config.json")):
            path = os.path.join(model, name)
            if os.path.exists(path):
                write(os.path.join(HERE, "corpus-config"), f"{base}-{name}", bytes([selector]) + open(path, "rb").read())
    train_data_seeds(os.path.join(HERE, "corpus-train_data"))
    teacher_cache_seeds(os.path.join(HERE, "corpus-teacher_cache"))
    for target in ("gguf", "safetensors", "config", "train_data", "teacher_cache"):
        folder = os.path.join(HERE, "corpus-" + target)
        print(f"{folder}: {len(os.listdir(folder))} seeds")


if __name__ == "__main__":
    main()
