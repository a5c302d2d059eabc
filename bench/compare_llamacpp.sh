#!/usr/bin/env bash
# Side-by-side speed of slm and llama.cpp on the same GGUF files, same thread count, same machine:
# runs llama-bench and `slm bench` alternately (ROUNDS times each, REPS repetitions per run), then
# prints per model and type pp512 / tg128 for both, the ratio slm/llama.cpp, and tg128 as a share
# of the memory bandwidth measured by slm's streaming-read kernel (bench_kernels BM_StreamRead,
# before every model and at the end; the median).
#
# Models: the real models in ../shared/models (q8_0 as shipped, q4_k_m re-quantized from it by
# llama-quantize) and random-weight models with the shapes of TinyLlama-1.1B ("random-1.1B"),
# Phi-2 2.7B ("phi2-2.7b") and Gemma-2 2B ("gemma2-2b") in q4_0, q4_k_m and q8_0, written by
# bench/make_random_gguf. Large files go to $MODELS_DIR (outside the repository).
#
# Environment (all optional):
#   BUILD_DIR     slm build with -DSLM_BENCH=ON            (default: build)
#   LLAMA_CPP_DIR where llama.cpp is cloned and built       (default: ../llama.cpp-bench, outside the repo)
#   LLAMA_BENCH   an existing llama-bench binary            (default: build it in LLAMA_CPP_DIR)
#   LLAMA_CPP_REF llama.cpp revision to build               (default: b4748)
#   MODELS_DIR    where generated GGUFs go                  (default: /tmp/slm-bench-models)
#   THREADS (default: nproc)  PROMPT (512)  GEN (128)  REPS (3)  ROUNDS (2)
#   ONLY          regular expression selecting model labels (default: all), e.g. 'phi2-2.7b q4_0'
#   NICE          niceness of the timed processes, e.g. -10 as root on a shared machine (default: 0)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
BUILD_DIR="${BUILD_DIR:-build}"
LLAMA_CPP_DIR="${LLAMA_CPP_DIR:-$repo/../llama.cpp-bench}"
LLAMA_CPP_REF="${LLAMA_CPP_REF:-b4748}"
MODELS_DIR="${MODELS_DIR:-/tmp/slm-bench-models}"
THREADS="${THREADS:-$(nproc)}"
PROMPT="${PROMPT:-512}"
GEN="${GEN:-128}"
REPS="${REPS:-3}"
ROUNDS="${ROUNDS:-2}"
ONLY="${ONLY:-.}"
NICE="${NICE:-0}"
SHARED="$repo/../shared/models"
SLM="$BUILD_DIR/tools/slm/slm"
MAKE_GGUF="$BUILD_DIR/bench/make_random_gguf"
BENCH_KERNELS="$BUILD_DIR/bench/bench_kernels"

if [[ -z "${LLAMA_BENCH:-}" ]]; then
    if [[ ! -x "$LLAMA_CPP_DIR/build/bin/llama-bench" ]]; then
        [[ -d "$LLAMA_CPP_DIR" ]] || git clone --depth 1 --branch "$LLAMA_CPP_REF" https://github.com/ggml-org/llama.cpp "$LLAMA_CPP_DIR"
        cmake -S "$LLAMA_CPP_DIR" -B "$LLAMA_CPP_DIR/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF >/dev/null
        cmake --build "$LLAMA_CPP_DIR/build" -j "$(nproc)" --target llama-bench llama-quantize
    fi
    LLAMA_BENCH="$LLAMA_CPP_DIR/build/bin/llama-bench"
fi
LLAMA_QUANTIZE="$(dirname "$LLAMA_BENCH")/llama-quantize"

if [[ ! -x "$SLM" || ! -x "$MAKE_GGUF" || ! -x "$BENCH_KERNELS" ]]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DSLM_BENCH=ON >/dev/null
    ninja -C "$BUILD_DIR" slm make_random_gguf bench_kernels
fi

# label -> file
mkdir -p "$MODELS_DIR"
declare -a labels=() files=()
for gguf in "$SHARED"/*/*-q8_0.gguf; do
    [[ -f "$gguf" ]] || continue
    base="$(basename "$gguf" -q8_0.gguf)"
    labels+=("$base q8_0"); files+=("$gguf")
    q4km="$MODELS_DIR/$base-q4_k_m.gguf"
    [[ -f "$q4km" ]] || "$LLAMA_QUANTIZE" --allow-requantize "$gguf" "$q4km" Q4_K_M >/dev/null 2>&1
    labels+=("$base q4_k_m"); files+=("$q4km")
done
# Random-weight models with real shapes: label prefix, make_random_gguf --shape, file stem, and
# the shared GGUF whose tokenizer is copied (an SPM vocabulary for Llama and Gemma, a byte-level
# BPE one for Phi-2, as the real models have).
spm_vocab="$SHARED/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf"
bpe_vocab="$SHARED/tinyqwen2-bpe-11m/tinyqwen2-bpe-11m-q8_0.gguf"
random_models=(
    "random-1.1B tinyllama-1.1b random-tinyllama-1.1b $spm_vocab"
    "phi2-2.7b phi-2 random-phi2-2.7b $bpe_vocab"
    "gemma2-2b gemma-2-2b random-gemma2-2b $spm_vocab"
)
for model in "${random_models[@]}"; do
    read -r prefix shape stem vocab_source <<< "$model"
    for type in q4_0 q4_k_m q8_0; do
        [[ "$prefix $type" =~ $ONLY ]] || continue  # a 2.7B file takes a minute to write
        out="$MODELS_DIR/$stem-$type.gguf"
        [[ -f "$out" ]] || "$MAKE_GGUF" --shape "$shape" --vocab-from "$vocab_source" --type "$type" --out "$out"
        labels+=("$prefix $type"); files+=("$out")
    done
done

results="$MODELS_DIR/compare-results.jsonl"
bandwidths="$MODELS_DIR/compare-bandwidth.txt"
: > "$results"
: > "$bandwidths"
# The yardstick is measured before every model, not once: on a shared machine one short
# measurement swung 21-29 GB/s between runs. The table uses the median.
measure_bandwidth() {
    nice -n "$NICE" "$BENCH_KERNELS" --benchmark_filter='BM_StreamRead/pool(/real_time)?$' --benchmark_format=json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["benchmarks"][0]["bytes_per_second"])' >> "$bandwidths"
}

for i in "${!labels[@]}"; do
    label="${labels[$i]}"; file="${files[$i]}"
    [[ "$label" =~ $ONLY ]] || continue
    measure_bandwidth
    for round in $(seq "$ROUNDS"); do
        # Alternate which tool goes first, so that drift (heat, other load) hits both alike.
        for tool in $( ((round % 2)) && echo "llama slm" || echo "slm llama"); do
            if [[ "$tool" == llama ]]; then
                json=$(nice -n "$NICE" "$LLAMA_BENCH" -m "$file" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r "$REPS" -o json 2>/dev/null)
            else
                json=$(nice -n "$NICE" "$SLM" bench "$file" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r "$REPS" --json)
            fi
            python3 "$repo/bench/compare_table.py" rows "$label" "$tool" "$json" >> "$results"
        done
    done
done

measure_bandwidth
python3 bench/compare_table.py "$results" "$bandwidths" "threads $THREADS" "$PROMPT" "$GEN"
