#!/usr/bin/env bash
# Retrieval quality of `slm rag` on SQuAD v1.1 dev: its 2,067 paragraphs are the knowledge base
# (one file each), its questions the queries; prints recall@1, recall@5 and MRR@10 of the gold
# paragraph for bm25, vector and hybrid retrieval under each fusion, and the embedding model used.
# Fusion weights are calibrated on questions disjoint from the reported ones: with EVERY=N the
# report uses questions 0, N, 2N, ... and the calibration questions 1, N+1, 2N+1, ...
# Usage: bench/rag_squad.sh [SLM_BINARY] [EVERY]   (EVERY >= 2; default 5: 2,114 reported, 2,114 calibrating)
# Environment: EMBED (embedding model; default ../shared/models/tinyqwen2-bpe-11m), POOLING (mean,
# last or cls; default the model's own), WORK (scratch dir), KB (default WORK/kb.sqlite; an existing
# KB of WORK/docs is reused: only changed paragraphs are embedded again).
# Rerank mode: RERANK=N (candidates) replaces the calibration and report with BM25, hybrid
# retrieval (default fusion), and hybrid with `--rerank N` by RERANK_MODEL (default
# ../shared/models/tinyqwen2-bpe-11m) on the first RERANK_QUESTIONS held-out questions (default 300).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
slm="${1:-$repo/build/tools/slm/slm}"
every="${2:-5}"
squad="$repo/../shared/datasets/squad-v1.1/dev-v1.1.json"
embed="${EMBED:-$repo/../shared/models/tinyqwen2-bpe-11m}"
work="${WORK:-$(mktemp -d /tmp/rag_squad.XXXXXX)}"
[ -f "$squad" ] || { echo "no $squad (../shared absent)" >&2; exit 1; }
[ "$every" -ge 2 ] || { echo "EVERY must be at least 2 (calibration needs questions of its own)" >&2; exit 1; }
kb="${KB:-$work/kb.sqlite}"
mkdir -p "$work/docs"

python3 - "$squad" "$work" "$every" <<'PY'
import json, sys, os
squad, work, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(squad))["data"]
questions, gold, n = [], [], 0
for article in data:
    for para in article["paragraphs"]:
        path = os.path.join(work, "docs", f"p{n:04d}.txt")
        text = para["context"].strip() + "\n"
        if not os.path.exists(path) or open(path).read() != text:  # a reused KB sees them unchanged
            open(path, "w").write(text)
        for qa in para["qas"]:
            questions.append(" ".join(qa["question"].split()))
            gold.append(n)
        n += 1
for split, offset in (("report", 0), ("calibrate", 1)):
    keep = range(offset, len(questions), every)
    open(os.path.join(work, split + ".questions.txt"), "w").write("".join(questions[i] + "\n" for i in keep))
    open(os.path.join(work, split + ".gold.txt"), "w").write("".join(f"{gold[i]}\n" for i in keep))
print(f"{n} paragraphs, {len(questions)} questions: {len(range(0, len(questions), every))} reported, "
      f"{len(range(1, len(questions), every))} for calibration (every {every}, offsets 0 and 1)")
PY

export SLM_NO_PROGRESS=1
start=$(date +%s)
"$slm" rag index "$kb" "$work/docs" --embed "$embed" ${POOLING:+--pooling "$POOLING"} \
  --chunk-tokens 510 --overlap 0 | tee "$work/index.log"
echo "index: $(( $(date +%s) - start )) s"
"$slm" rag ls "$kb" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("embedding model:", d["embed_model_path"], d["embed_model"], d["dim"], "dims;", d["chunks"], "chunks")'

# Scores each run's JSON lines against the gold paragraphs (chunks -> paragraphs, first occurrence).
cat > "$work/score.py" <<'PY'
import json, re, sys
def paragraphs(results):
    seen = []
    for res in results:
        p = int(re.search(r"p(\d+)\.txt$", res["path"]).group(1))
        if p not in seen: seen.append(p)
    return seen
def metrics(ranked, gold):
    r1 = r5 = mrr = 0.0
    for seen, g in zip(ranked, gold):
        if g in seen[:10]:
            rank = seen.index(g) + 1
            r1 += rank == 1; r5 += rank <= 5; mrr += 1.0 / rank
    n = len(gold)
    return r1 / n, r5 / n, mrr / n
if __name__ == "__main__":
    jsonl, gold_file, label, secs = sys.argv[1:5]
    gold = [int(l) for l in open(gold_file)]
    lines = open(jsonl).read().splitlines()
    assert len(lines) == len(gold), (len(lines), len(gold))
    r1, r5, mrr = metrics([paragraphs(json.loads(l)["results"]) for l in lines], gold)
    print(f"{label:24s} recall@1 {r1:.4f}  recall@5 {r5:.4f}  MRR@10 {mrr:.4f}  ({len(gold)} questions, {secs} s)")
PY

run() {  # label, then the search options; QUESTIONS (default report) names the question set
  local label=$1; shift
  local set=${QUESTIONS:-report}
  local start=$(date +%s) out="$work/$set.${label//[:, ]/_}.jsonl"
  "$slm" rag search "$kb" --file "$work/$set.questions.txt" --k 10 "$@" --json > "$out"
  python3 "$work/score.py" "$out" "$work/$set.gold.txt" "$label" $(( $(date +%s) - start ))
}

if [ -n "${RERANK:-}" ]; then
  rerank_model="${RERANK_MODEL:-$repo/../shared/models/tinyqwen2-bpe-11m}"
  n="${RERANK_QUESTIONS:-300}"
  head -n "$n" "$work/report.questions.txt" > "$work/rerank.questions.txt"
  head -n "$n" "$work/report.gold.txt" > "$work/rerank.gold.txt"
  echo "rerank: the first $n held-out questions, $RERANK candidates scored by $rerank_model"
  export QUESTIONS=rerank
  run "bm25" --mode bm25
  run "hybrid (default)" --mode hybrid
  run "hybrid + rerank" --mode hybrid --rerank "$RERANK" --model "$rerank_model"
  echo "scratch: $work"
  exit 0
fi

# Calibration: both candidate lists (50 deep, as hybrid retrieval takes them for --k 10) for the
# calibration questions, fused here under each weight on a grid; the best recall@5 (then MRR)
# wins. The formulas are those of src/rag/rank_fusion.cpp; the report below runs the real ones.
for mode in bm25 vector; do
  "$slm" rag search "$kb" --file "$work/calibrate.questions.txt" --k 50 --mode "$mode" --json \
    > "$work/calibrate.$mode.jsonl"
done
read -r rrf_best relative_best < <(python3 - "$work" <<'PY'
import json, sys, os
sys.path.insert(0, sys.argv[1])
from score import paragraphs, metrics
work = sys.argv[1]
gold = [int(l) for l in open(os.path.join(work, "calibrate.gold.txt"))]
load = lambda m: [json.loads(l)["results"] for l in open(os.path.join(work, f"calibrate.{m}.jsonl"))]
bm25, vec = load("bm25"), load("vector")
def fuse(lists, contribution):
    score, first, where = {}, {}, {}
    for li, (results, weight) in enumerate(lists):
        scores = [r["score"] for r in results]
        lo, hi = (min(scores), max(scores)) if scores else (0, 0)
        for rank, r in enumerate(results):
            cid = r["chunk_id"]
            first.setdefault(cid, len(first)); where[cid] = r
            score[cid] = score.get(cid, 0.0) + contribution(weight, rank, r["score"], lo, hi)
    return [where[c] for c in sorted(score, key=lambda c: (-score[c], first[c]))][:10]
rrf = lambda w, rank, s, lo, hi: w / (60 + rank + 1)
rel = lambda w, rank, s, lo, hi: w * ((s - lo) / (hi - lo) if hi > lo else 1.0)
def evaluate(contribution, wb, wv):
    return metrics([paragraphs(fuse([(b, wb), (v, wv)], contribution)) for b, v in zip(bm25, vec)], gold)
print("calibration (%d questions):" % len(gold), file=sys.stderr)
for name, lists in (("bm25 alone", bm25), ("vector alone", vec)):
    r1, r5, mrr = metrics([paragraphs(results) for results in lists], gold)
    print(f"  {name:18s}  recall@1 {r1:.4f}  recall@5 {r5:.4f}  MRR@10 {mrr:.4f}", file=sys.stderr)
best = {}
for name, contribution, grid in (("rrf", rrf, [(1, w) for w in (1, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)]),
                                 ("relative", rel, [(a, round(1 - a, 2)) for a in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)])):
    for wb, wv in grid:
        r1, r5, mrr = evaluate(contribution, wb, wv)
        print(f"  {name + f':{wb:g},{wv:g}':18s}  recall@1 {r1:.4f}  recall@5 {r5:.4f}  MRR@10 {mrr:.4f}", file=sys.stderr)
        if name not in best or (r5, mrr) > best[name][0]: best[name] = ((r5, mrr), f"{name}:{wb:g},{wv:g}")
print(best["rrf"][1], best["relative"][1])
PY
)
echo "calibrated: $rrf_best $relative_best"

echo "held-out questions:"
run bm25 --mode bm25
run vector --mode vector
for fusion in rrf "$rrf_best" "$relative_best" default; do
  if [ "$fusion" = default ]; then run "hybrid (default)" --mode hybrid; else run "$fusion" --mode hybrid --fusion "$fusion"; fi
done
echo "scratch: $work"
