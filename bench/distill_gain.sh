#!/usr/bin/env bash
# The distillation gain on a real model: a student made of some of tinyqwen2's layers, trained on
# tinyshakespeare (the teacher's own domain) with the teacher's soft targets (alpha 0.5,
# temperature 2) and, as the baseline, with the same data, steps, seed and initialisation but no
# teacher (alpha 0: cross-entropy only); then once more from the teacher's top-64 cache (written
# once by --cache-teacher). Prints the held-out perplexity of the teacher, of the student before
# training, and of the three students after.
#
#   bench/distill_gain.sh [STEPS] [LAYERS] [THREADS]     (defaults: 300 layers:0,3,7 2)
set -euo pipefail
cd "$(dirname "$0")/.."
SLM=${SLM:-build/tools/slm/slm}
STEPS=${1:-300}
LAYERS=${2:-layers:0,3,7}
THREADS=${3:-2}
TEACHER=../shared/models/tinyqwen2-bpe-11m
TEXT=../shared/datasets/tinyshakespeare/input.txt
WORK=${WORK:-/tmp/slm-distill-gain}
rm -rf "$WORK" && mkdir -p "$WORK"
# Train on the first 600 kB, evaluate on the last 40 kB (inside the 5% the teacher never saw).
head -c 600000 "$TEXT" > "$WORK/train.txt"
tail -c 40000 "$TEXT" > "$WORK/eval.txt"
common=(--teacher "$TEACHER" --student-init "$LAYERS" --data "$WORK/train.txt" --eval-data "$WORK/eval.txt"
        --max-steps "$STEPS" --lr 1e-3 --warmup 0.05 --batch-size 8 --max-seq-len 128 --eval-every 50
        --temperature 2 --threads "$THREADS" --json)
for alpha in 0.5 0; do
  "$SLM" distill "${common[@]}" --alpha "$alpha" -o "$WORK/alpha-$alpha" > "$WORK/alpha-$alpha.jsonl" 2> "$WORK/alpha-$alpha.log"
done
start=$(date +%s.%N)
"$SLM" distill --teacher "$TEACHER" --data "$WORK/train.txt" --cache-teacher "$WORK/teacher.topk" --top-k 64 \
    --temperature 2 --max-seq-len 128 --batch-size 8 --threads "$THREADS" > /dev/null 2>&1
echo "cache: $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s, $(du -h "$WORK/teacher.topk" | cut -f1)" > "$WORK/cache.txt"
"$SLM" distill "${common[@]}" --alpha 0.5 --teacher-cache "$WORK/teacher.topk" -o "$WORK/cached" \
    > "$WORK/alpha-0.5-cached.jsonl" 2> "$WORK/cached.log"
python3 - "$WORK" <<'PY'
import json, math, sys
work = sys.argv[1]
def summary(alpha):
    lines = [json.loads(l) for l in open(f"{work}/alpha-{alpha}.jsonl")]
    return lines[-1], [l for l in lines if "eval_loss" in l]
kd, kd_evals = summary("0.5")
ce, ce_evals = summary("0")
cached, _ = summary("0.5-cached")
print(f"teacher                      eval ppl {kd['teacher_eval_ppl']:.2f}")
print(f"student before training      eval ppl {kd['eval_ppl_before']:.2f}")
print(f"student, CE only (alpha 0)   eval ppl {ce['eval_ppl_after']:.2f}  ({ce['seconds']:.0f} s)")
print(f"student, distilled (0.5, 2)  eval ppl {kd['eval_ppl_after']:.2f}  ({kd['seconds']:.0f} s)")
print(f"  from the top-64 cache      eval ppl {cached['eval_ppl_after']:.2f}  ({cached['seconds']:.0f} s; "
      + open(f"{work}/cache.txt").read().strip() + ")")
print("eval ppl by step (distilled / CE only):",
      [(a["step"], round(math.exp(a["eval_loss"]), 2), round(math.exp(b["eval_loss"]), 2)) for a, b in zip(kd_evals, ce_evals)])
PY
