#!/usr/bin/env bash
# Side-by-side speed of slm and llama.cpp's CUDA backend on the same GGUF files on the same GPU,
# all layers on the GPU (issue 24's yardstick). Run on the GPU machine: llama-bench (-ngl 99) and
# `slm bench --device cuda` alternate ROUNDS times per model (REPS repetitions each, -p PROMPT -n GEN),
# then bench/compare_table.py prints per model pp and tg for both, the ratio slm / llama.cpp, and
# slm's tg as a share of the GPU's read bandwidth (bench_cuda_matvec --ceilings, measured before
# every model; the median).
#
# Models: random-weight GGUFs with Llama-2-7B and TinyLlama-1.1B shapes in q4_0, q4_k_m and q8_0,
# written by make_random_gguf into MODELS_DIR (llama.cpp's tensor names; the tokenizer of the
# shared Llama model).
#
# Environment:
#   LLAMA_BENCH   llama-bench built with -DGGML_CUDA=ON (required; llama.cpp is built outside this
#                 repository, e.g. b4748 with -DCMAKE_CUDA_ARCHITECTURES=90)
#   BIN_DIR       slm, make_random_gguf and bench_cuda_matvec of an -DSLM_CUDA=ON -DSLM_BENCH=ON
#                 build (default: the staged tests/cuda/stage_for_device.sh folder, build-cuda/device)
#   SHARED        ../shared/models or the staged copy (default: BIN_DIR/shared/models)
#   MODELS_DIR    where the GGUFs go (default: /tmp/slm-cuda-models)
#   SHAPES (llama-2-7b tinyllama-1.1b)  TYPES (q4_0 q4_k_m q8_0)  PROMPT (512)  GEN (128)  REPS (3)  ROUNDS (2)
#   LLAMA_ARGS    extra llama-bench arguments, e.g. "-fa 1"
#   BANDWIDTH     the GPU's read bandwidth in GB/s, when BIN_DIR has no bench_cuda_matvec to measure it
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
: "${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench built with CUDA}"
BIN_DIR="${BIN_DIR:-$repo/build-cuda/device}"
SHARED="${SHARED:-$BIN_DIR/shared/models}"
MODELS_DIR="${MODELS_DIR:-/tmp/slm-cuda-models}"
SHAPES="${SHAPES:-llama-2-7b tinyllama-1.1b}"
TYPES="${TYPES:-q4_0 q4_k_m q8_0}"
PROMPT="${PROMPT:-512}"
GEN="${GEN:-128}"
REPS="${REPS:-3}"
ROUNDS="${ROUNDS:-2}"
LLAMA_ARGS="${LLAMA_ARGS:-}"
SLM="$BIN_DIR/slm"
MAKE_GGUF="$BIN_DIR/make_random_gguf"
CEILINGS="$BIN_DIR/bench_cuda_matvec"

mkdir -p "$MODELS_DIR"
vocab=$(ls "$SHARED"/tinyllama*/*.gguf | head -1)
results="$MODELS_DIR/compare-cuda-results.jsonl"
bandwidths="$MODELS_DIR/compare-cuda-bandwidth.txt"
: > "$results"
: > "$bandwidths"
measure_bandwidth() {
    if [[ -x "$CEILINGS" ]]; then
        "$CEILINGS" --ceilings | sed -n 's/^stream_read: \([0-9.]*\) GB\/s$/\1e9/p' >> "$bandwidths"
    else
        echo "${BANDWIDTH:?no bench_cuda_matvec in BIN_DIR: set BANDWIDTH (GB/s)}e9" >> "$bandwidths"
    fi
}

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
for shape in $SHAPES; do
    for type in $TYPES; do
        file="$MODELS_DIR/$shape-$type.gguf"
        [[ -f "$file" ]] || "$MAKE_GGUF" --shape "$shape" --vocab-from "$vocab" --type "$type" --out "$file" >/dev/null
        label="$shape $type"
        measure_bandwidth
        for round in $(seq "$ROUNDS"); do
            # Alternate which tool goes first, so that drift (clocks, heat) hits both alike.
            for tool in $( ((round % 2)) && echo "llama slm" || echo "slm llama"); do
                if [[ "$tool" == llama ]]; then
                    # shellcheck disable=SC2086
                    json=$("$LLAMA_BENCH" -m "$file" -ngl 99 -p "$PROMPT" -n "$GEN" -r "$REPS" $LLAMA_ARGS -o json 2>/dev/null)
                else
                    json=$("$SLM" bench "$file" --device cuda -p "$PROMPT" -n "$GEN" -r "$REPS" --json 2>/dev/null)
                fi
                python3 "$repo/bench/compare_table.py" rows "$label" "$tool" "$json" >> "$results"
            done
        done
    done
done
measure_bandwidth
python3 "$repo/bench/compare_table.py" "$results" "$bandwidths" "$gpu; all layers on the GPU" "$PROMPT" "$GEN"
