#!/usr/bin/env bash
# Side-by-side LoRA fine-tuning speed and memory of `slm finetune` and PyTorch on the CPU, same
# machine, same model, same token ids, same sequence length, batch, LoRA (r 16, alpha 32, dropout
# 0, all seven linear layers of each block), AdamW, gradient clipping, schedule and thread count.
# The PyTorch side is bench/torch_lora_train.py: the model written out in plain PyTorch with LoRA
# as PEFT applies it (frozen base nn.Linear + lora_B(lora_A(x)) * alpha / r), float32 base.
#
# Runs alternate (slm variants, then PyTorch, ROUNDS times); each run's tokens/s is the median of
# its steps after the first (warm-up), its peak RSS is /usr/bin/time's "Maximum resident set size".
# The table gives medians over rounds and the ratios slm/PyTorch (tokens/s: higher is better for
# slm; RSS: lower is better), the median of the per-round tokens/s ratios, and, for --qlora, the
# RSS against slm's own bf16 LoRA of the model.
#
# Models:
#   tinyqwen2-11m  ../shared/models/tinyqwen2-bpe-11m (HF dir, bf16; slm also on its q8_0 GGUF
#                  and with --qlora)
#   random-1.1B    TinyLlama-1.1B's shapes with random weights (std 0.02), written once by
#                  bench/make_random_llama.py into $CACHE_DIR as an HF dir in bf16 (PyTorch reads it
#                  as float32), converted by `slm convert --type q8_0` for slm's q8_0 row; slm's
#                  --qlora row reads the bf16 dir and holds the base in NF4.
# Data: the text of /usr/share/common-licenses (~300 KB) as a .txt file: `slm finetune` tokenizes it
# once and cuts it into --max-seq-len pieces; PyTorch gets the ids of `slm tokenize --ids` cut the
# same way. Loss on every next token inside a piece, on both sides.
#
# Usage: bench/finetune_vs_torch.sh [--slm PATH]     (default build/tools/slm/slm; copy it first
#        if others rebuild that tree while this runs)
# Environment (all optional):
#   CACHE_DIR   data, the 1.1B model, run outputs        (default bench/.cache, ignored by git)
#   THREADS     threads on both sides                    (default: nproc)
#   ROUNDS      alternating rounds                       (default 2)
#   SMALL_STEPS SMALL_SEQ SMALL_BATCH  tinyqwen2 steps, sequence length, batch (default 12 256 8)
#   BIG_STEPS   BIG_SEQ   BIG_BATCH    1.1B steps, sequence length, batch      (default 4 256 1)
#   SMALL_QLORA_STEPS BIG_QLORA_STEPS  steps of the --qlora runs (default 4 2: NF4 has no matmul
#               kernel yet, a 1.1B step takes minutes)
#   QLORA_ROUNDS  rounds that include the --qlora run (default 1: the first)
#   ONLY        regular expression on the model names (tinyqwen2-11m, random-1.1B; default all)
#   TORCH_OMP_WAIT_POLICY  OMP_WAIT_POLICY for PyTorch (default PASSIVE: on a machine shared with
#               other work, libgomp's spinning threads made small matrix products 5-100x slower)
#   PYTHON      a Python with torch and numpy             (default /usr/bin/python3)
#   APPEND=1    add to $CACHE_DIR/finetune-results.jsonl instead of starting it again (more rounds
#               later; the table covers every run in the file)
#   TABLE_ONLY=1  run nothing, print the table of the runs in that file
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
SLM="${SLM:-build/tools/slm/slm}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --slm) SLM="$2"; shift 2 ;;
        --slm=*) SLM="${1#--slm=}"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
CACHE_DIR="${CACHE_DIR:-$repo/bench/.cache}"
THREADS="${THREADS:-$(nproc)}"
ROUNDS="${ROUNDS:-2}"
SMALL_STEPS="${SMALL_STEPS:-12}"; SMALL_SEQ="${SMALL_SEQ:-256}"; SMALL_BATCH="${SMALL_BATCH:-8}"
BIG_STEPS="${BIG_STEPS:-4}"; BIG_SEQ="${BIG_SEQ:-256}"; BIG_BATCH="${BIG_BATCH:-1}"
SMALL_QLORA_STEPS="${SMALL_QLORA_STEPS:-4}"; BIG_QLORA_STEPS="${BIG_QLORA_STEPS:-2}"; QLORA_ROUNDS="${QLORA_ROUNDS:-1}"
ONLY="${ONLY:-.}"
TORCH_OMP_WAIT_POLICY="${TORCH_OMP_WAIT_POLICY:-PASSIVE}"
PYTHON="${PYTHON:-/usr/bin/python3}"
SHARED="$repo/../shared/models"
LORA=(--lora-r 16 --lora-alpha 32 --lora-dropout 0)

[[ -x "$SLM" ]] || { echo "no slm binary at $SLM (build it, or pass --slm PATH)" >&2; exit 1; }
"$SLM" finetune --help >/dev/null 2>&1 || { echo "$SLM has no finetune verb" >&2; exit 1; }

# PyTorch from Debian (python3-torch, CPU). Its libtorch takes whatever libblas.so.3 the system
# has; with Debian's reference BLAS a 2048x2048x5632 product runs at ~3 GFLOPS instead of ~58
# with OpenBLAS, so OpenBLAS (the OpenMP build, as libtorch uses libgomp) comes with it.
if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch >/dev/null
fi
blas="$(update-alternatives --query "libblas.so.3-$(uname -m)-linux-gnu" 2>/dev/null | sed -n 's/^Value: //p')"
if ! [[ "$blas" =~ openblas|blis|mkl|atlas ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas0-openmp >/dev/null
    blas="$(update-alternatives --query "libblas.so.3-$(uname -m)-linux-gnu" 2>/dev/null | sed -n 's/^Value: //p')"
fi

mkdir -p "$CACHE_DIR"
[[ -f "$CACHE_DIR/.gitignore" ]] || printf '*\n' > "$CACHE_DIR/.gitignore"
DATA="$CACHE_DIR/licenses.txt"
[[ -s "$DATA" ]] || cat /usr/share/common-licenses/* > "$DATA"

SMALL_DIR="$SHARED/tinyqwen2-bpe-11m"
SMALL_GGUF="$SHARED/tinyqwen2-bpe-11m/tinyqwen2-bpe-11m-q8_0.gguf"
BIG_DIR="$CACHE_DIR/random-llama-1.1b"
BIG_GGUF="$CACHE_DIR/random-llama-1.1b-q8_0.gguf"
if [[ "random-1.1B" =~ $ONLY ]]; then
    if [[ ! -s "$BIG_DIR/model.safetensors" ]]; then
        avail=$(df --output=avail -B1G "$CACHE_DIR" | tail -1)
        (( avail >= 6 )) || { echo "$CACHE_DIR: ${avail} GB free, the 1.1B model needs ~4.5 GB" >&2; exit 1; }
        "$PYTHON" bench/make_random_llama.py "$BIG_DIR" --tokenizer-from "$SHARED/tinyllama-spm-13m"
    fi
    [[ -s "$BIG_GGUF" ]] || "$SLM" convert "$BIG_DIR" -o "$BIG_GGUF" --type q8_0 >/dev/null
fi

results="$CACHE_DIR/finetune-results.jsonl"
[[ -n "${APPEND:-}${TABLE_ONLY:-}" ]] || : > "$results"
runs="$CACHE_DIR/runs"
mkdir -p "$runs"

# run_slm LABEL VARIANT MODEL STEPS SEQ BATCH [EXTRA...]
run_slm() {
    local label="$1" variant="$2" model="$3" steps="$4" seq="$5" batch="$6"; shift 6
    local log="$runs/${label}-${variant// /_}-slm"
    rm -rf "$runs/adapter"
    /usr/bin/time -f '%M' -o "$log.rss" "$SLM" finetune "$model" --data "$DATA" -o "$runs/adapter" \
        --max-seq-len "$seq" --batch-size "$batch" --max-steps "$steps" "${LORA[@]}" -t "$THREADS" --json "$@" \
        > "$log.json" 2> "$log.err"
    "$PYTHON" - "$label" "$variant" "$log.json" "$log.rss" >> "$results" <<'PY'
import json, statistics, sys
label, variant, path, rss = sys.argv[1:]
records = [json.loads(l) for l in open(path) if l.startswith("{")]
steps = [r for r in records if "step" in r and not r.get("summary")]
rates = [r["tokens_per_second"] for r in steps[1:]] or [steps[0]["tokens_per_second"]]
print(json.dumps({"label": label, "variant": variant, "tool": "slm", "tps": statistics.median(rates),
                  "rss": int(open(rss).read().split()[-1]) * 1024, "losses": [r["loss"] for r in steps]}))
PY
    tail -1 "$results"
}

# run_torch LABEL MODEL IDS STEPS SEQ BATCH
run_torch() {
    local label="$1" model="$2" ids="$3" steps="$4" seq="$5" batch="$6"
    local log="$runs/${label}-torch"
    OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY="$TORCH_OMP_WAIT_POLICY" \
        /usr/bin/time -f '%M' -o "$log.rss" "$PYTHON" bench/torch_lora_train.py "$model" --ids "$ids" \
        --seq-len "$seq" --batch-size "$batch" --steps "$steps" --lora-r 16 --lora-alpha 32 --lora-dropout 0 \
        --threads "$THREADS" > "$log.json" 2> "$log.err"
    "$PYTHON" - "$label" "$log.json" "$log.rss" >> "$results" <<'PY'
import json, sys
label, path, rss = sys.argv[1:]
r = json.load(open(path))
print(json.dumps({"label": label, "variant": "float32 LoRA", "tool": "torch", "tps": r["tokens_per_second_median"],
                  "rss": int(open(rss).read().split()[-1]) * 1024, "losses": [s["loss"] for s in r["steps"]]}))
PY
    tail -1 "$results"
}

machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GB RAM;\
 AVX2: $(grep -q avx2 /proc/cpuinfo && echo yes || echo no), AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no)\
 (VNNI: $(grep -q avx512_vnni /proc/cpuinfo && echo yes || echo no), BF16: $(grep -q avx512_bf16 /proc/cpuinfo && echo yes || echo no))"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
[[ -z "${TABLE_ONLY:-}" ]] || load_start="(no runs: TABLE_ONLY)"

for label in tinyqwen2-11m random-1.1B; do
    [[ "$label" =~ $ONLY && -z "${TABLE_ONLY:-}" ]] || continue
    if [[ "$label" == tinyqwen2-11m ]]; then
        dir="$SMALL_DIR"; gguf="$SMALL_GGUF"; steps="$SMALL_STEPS"; seq="$SMALL_SEQ"; batch="$SMALL_BATCH"
        qsteps="$SMALL_QLORA_STEPS"
    else
        dir="$BIG_DIR"; gguf="$BIG_GGUF"; steps="$BIG_STEPS"; seq="$BIG_SEQ"; batch="$BIG_BATCH"
        qsteps="$BIG_QLORA_STEPS"
    fi
    ids="$CACHE_DIR/$label.ids"
    [[ -s "$ids" ]] || "$SLM" tokenize "$dir" --file "$DATA" --ids > "$ids"
    for round in $(seq "$ROUNDS"); do
        echo "== $label round $round ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
        # PyTorch goes first in even rounds, so that drift (heat, other load) hits both alike.
        ((round % 2)) || run_torch "$label" "$dir" "$ids" "$steps" "$seq" "$batch"
        run_slm "$label" "bf16 LoRA" "$dir" "$steps" "$seq" "$batch"
        run_slm "$label" "q8_0 LoRA" "$gguf" "$steps" "$seq" "$batch"
        ((round > QLORA_ROUNDS)) || run_slm "$label" "NF4 QLoRA" "$dir" "$qsteps" "$seq" "$batch" --qlora
        ((round % 2 == 0)) || run_torch "$label" "$dir" "$ids" "$steps" "$seq" "$batch"
    done
done
rm -rf "$runs/adapter"
echo "machine: $machine"
echo "load average: $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"

"$PYTHON" - "$results" "$THREADS" "$SMALL_SEQ" "$SMALL_BATCH" "$SMALL_STEPS" "$BIG_SEQ" "$BIG_BATCH" "$BIG_STEPS" "$blas" \
    "$SMALL_QLORA_STEPS" "$BIG_QLORA_STEPS" <<'PY'
import json, statistics, sys
import torch
path, threads, sseq, sbatch, ssteps, bseq, bbatch, bsteps, blas, sq, bq = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
def med(label, tool, variant, key):
    v = [r[key] for r in rows if r["label"] == label and r["tool"] == tool and (tool == "torch" or r["variant"] == variant)]
    return (statistics.median(v), len(v)) if v else (float("nan"), 0)
mib = lambda b: f"{b / 2**20:.0f} MiB" if b < 2**30 else f"{b / 2**30:.2f} GiB"
print(f"threads {threads}; torch {torch.__version__} (BLAS: {blas}); LoRA r16 alpha32 dropout 0, all-linear; "
      f"tinyqwen2-11m: seq {sseq} x batch {sbatch}, {ssteps} steps; random-1.1B: seq {bseq} x batch {bbatch}, "
      f"{bsteps} steps (--qlora: {sq} and {bq}); tokens/s: median over steps 2.. of each run, then over runs")
print("| model | slm base | slm tok/s | PyTorch tok/s (float32 LoRA) | ratio | ratio by round | slm peak RSS | PyTorch peak RSS | ratio | runs |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for label in dict.fromkeys(r["label"] for r in rows):
    tt, nt = med(label, "torch", None, "tps")
    tr, _ = med(label, "torch", None, "rss")
    for variant in dict.fromkeys(r["variant"] for r in rows if r["label"] == label and r["tool"] == "slm"):
        st, ns = med(label, "slm", variant, "tps")
        sr, _ = med(label, "slm", variant, "rss")
        # The k-th run of a variant and the k-th PyTorch run of a model are of one round: the
        # median of their ratios is less moved by load that changes between rounds.
        pairs = zip([r["tps"] for r in rows if r["label"] == label and r["tool"] == "slm" and r["variant"] == variant],
                    [r["tps"] for r in rows if r["label"] == label and r["tool"] == "torch"])
        by_round = statistics.median(a / b for a, b in pairs)
        print(f"| {label} | {variant} | {st:.1f} | {tt:.1f} | {st / tt:.2f} | {by_round:.2f} | {mib(sr)} | {mib(tr)} | "
              f"{sr / tr:.2f} | {ns}+{nt} |")
for label in dict.fromkeys(r["label"] for r in rows):
    q, _ = med(label, "slm", "NF4 QLoRA", "rss")
    b, _ = med(label, "slm", "bf16 LoRA", "rss")
    if q == q and b == b:
        print(f"\n{label}: slm --qlora peak RSS {mib(q)} = {q / b:.2f} x slm bf16 LoRA's {mib(b)}")
PY
