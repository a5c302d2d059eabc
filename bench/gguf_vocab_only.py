#!/usr/bin/env python3
"""Copies a GGUF's metadata (tokenizer included) without its tensors: a few hundred KiB that
make_random_gguf --vocab-from reads as well as the whole model, for carrying to the GPU machine
within the device tool's 64 MiB (tests/cuda/stage_compare.sh).

  gguf_vocab_only.py MODEL.gguf OUT.gguf
"""
import struct
import sys

SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9


def value_end(data, off, kind):
    if kind == STRING:
        (n,) = struct.unpack_from("<Q", data, off)
        return off + 8 + n
    if kind == ARRAY:
        item, n = struct.unpack_from("<IQ", data, off)
        off += 12
        if item == STRING:
            for _ in range(n):
                (length,) = struct.unpack_from("<Q", data, off)
                off += 8 + length
            return off
        return off + n * SCALAR_BYTES[item]
    return off + SCALAR_BYTES[kind]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    if data[:4] != b"GGUF":
        sys.exit(f"{src}: not a GGUF file")
    _version, _tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    off = 24
    for _ in range(n_kv):
        (key_len,) = struct.unpack_from("<Q", data, off)
        off += 8 + key_len
        (kind,) = struct.unpack_from("<I", data, off)
        off = value_end(data, off + 4, kind)
    header = bytearray(data[:off])
    struct.pack_into("<Q", header, 8, 0)  # no tensors
    open(dst, "wb").write(header)


if __name__ == "__main__":
    main()
