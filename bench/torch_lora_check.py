#!/usr/bin/python3
"""Checks bench/torch_lora_train.py's plain-PyTorch model against transformers' references.

For every real model in ../shared/models with a reference_greedy.json (transformers' float32
greedy continuation and the top-5 ids at the last prompt position), runs the PyTorch model of
torch_lora_train.py (LoRA B is zero at the start, so the adapters change nothing) on the prompt
plus the first 16 reference tokens and compares the top-5 ids and the 16 greedy tokens.
Exits 1 on any mismatch. Usage: bench/torch_lora_check.py [MODEL_DIR...]
"""
import glob
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_lora_train as t  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = sys.argv[1:] or sorted(os.path.dirname(p) for p in glob.glob(
        os.path.join(here, "..", "..", "shared", "models", "*", "reference_greedy.json")))
    torch.set_num_threads(os.cpu_count() or 1)
    failed = 0
    for d in dirs:
        model, _ = t.load_model(d, {"r": 16, "alpha": 32, "dropout": 0.0, "targets": set(t.ALL_TARGETS)})
        model.eval()
        refs = json.load(open(os.path.join(d, "reference_greedy.json")))
        ok = 0
        for r in refs:
            n = 16
            ids = torch.tensor([r["prompt_ids"] + r["greedy_ids"][:n]])
            with torch.no_grad():
                logits = model(ids)[0]
            p = len(r["prompt_ids"])
            top5 = logits[p - 1].topk(5).indices.tolist()
            greedy = logits[p - 1:p - 1 + n].argmax(-1).tolist()
            ok += top5 == r["last_logits_top5"][:5] and greedy == r["greedy_ids"][:n]
        print(f"{os.path.basename(os.path.normpath(d))}: {ok}/{len(refs)} prompts match transformers "
              f"(top-5 at the prompt's end, 16 greedy tokens)")
        failed += ok != len(refs)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
