#!/usr/bin/env bash
# Retrieval quality of `slm rag` on SQuAD v1.1 dev: its 2,067 paragraphs are the knowledge base
# (one file each), its questions the queries; prints recall@1, recall@5 and MRR@10 of the gold
# paragraph for bm25, vector and hybrid retrieval, and the embedding model used.
# Usage: bench/rag_squad.sh [SLM_BINARY] [EVERY]   (EVERY=N keeps every Nth question; default 1: all 10,570)
# Environment: EMBED (embedding model; default ../shared/models/tinyqwen2-bpe-11m), WORK (scratch dir).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
slm="${1:-$repo/build/tools/slm/slm}"
every="${2:-1}"
squad="$repo/../shared/datasets/squad-v1.1/dev-v1.1.json"
embed="${EMBED:-$repo/../shared/models/tinyqwen2-bpe-11m}"
work="${WORK:-$(mktemp -d /tmp/rag_squad.XXXXXX)}"
[ -f "$squad" ] || { echo "no $squad (../shared absent)" >&2; exit 1; }
mkdir -p "$work/docs"

python3 - "$squad" "$work" "$every" <<'PY'
import json, sys, os
squad, work, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(squad))["data"]
questions, gold, n = [], [], 0
for article in data:
    for para in article["paragraphs"]:
        with open(os.path.join(work, "docs", f"p{n:04d}.txt"), "w") as f:
            f.write(para["context"].strip() + "\n")
        for qa in para["qas"]:
            questions.append(" ".join(qa["question"].split()))
            gold.append(n)
        n += 1
keep = range(0, len(questions), every)
open(os.path.join(work, "questions.txt"), "w").write("".join(questions[i] + "\n" for i in keep))
open(os.path.join(work, "gold.txt"), "w").write("".join(f"{gold[i]}\n" for i in keep))
print(f"{n} paragraphs, {len(questions)} questions, {len(keep)} used (every {every})")
PY

export SLM_NO_PROGRESS=1
start=$(date +%s)
"$slm" rag index "$work/kb.sqlite" "$work/docs" --embed "$embed" --chunk-tokens 510 --overlap 0 | tee "$work/index.log"
echo "index: $(( $(date +%s) - start )) s"
"$slm" rag ls "$work/kb.sqlite" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("embedding model:", d["embed_model_path"], d["dim"], "dims;", d["chunks"], "chunks")'

for mode in bm25 vector hybrid; do
  start=$(date +%s)
  "$slm" rag search "$work/kb.sqlite" --file "$work/questions.txt" --k 10 --mode "$mode" --json > "$work/$mode.jsonl"
  secs=$(( $(date +%s) - start ))
  python3 - "$work" "$mode" "$secs" <<'PY'
import json, sys, os, re
work, mode, secs = sys.argv[1], sys.argv[2], sys.argv[3]
gold = [int(l) for l in open(os.path.join(work, "gold.txt"))]
r1 = r5 = mrr = 0.0
lines = open(os.path.join(work, mode + ".jsonl")).read().splitlines()
assert len(lines) == len(gold), (len(lines), len(gold))
for line, g in zip(lines, gold):
    seen = []
    for res in json.loads(line)["results"]:  # chunks -> paragraphs, first occurrence
        p = int(re.search(r"p(\d+)\.txt$", res["path"]).group(1))
        if p not in seen: seen.append(p)
    if g in seen:
        rank = seen.index(g) + 1
        r1 += rank == 1; r5 += rank <= 5; mrr += 1.0 / rank
n = len(gold)
print(f"{mode:7s} recall@1 {r1/n:.4f}  recall@5 {r5/n:.4f}  MRR@10 {mrr/n:.4f}  ({n} questions, {secs} s)")
PY
done
echo "scratch: $work"
