#!/usr/bin/env bash
# Side-by-side serving throughput of `slm serve` and llama.cpp's llama-server on the same GGUF with the
# same number of slots (continuous batching in both), all layers on the GPU (issue 24's server yardstick).
# Each server in turn is started alone, warmed up, then bench/load_test.py streams chat completions
# from 1, 8 and 32 concurrent clients for PHASE_SECONDS each; ROUNDS rounds alternate which server goes
# first (a shared machine drifts). bench/compare_server_table.py prints per number of clients the
# generated tokens/s of both, their ratio, p50 time to first token, and the checks that both did the
# same work: failed requests, requests that ended before MAX_TOKENS, mean prompt tokens.
#
# Both get the same request: the same prompts, MAX_TOKENS, and llama-server's default sampling made
# explicit (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05); neither ignores the end-of-text token
# (random weights seldom pick it: the "short" column shows how often either did). A GGUF without a chat
# template gets slm's plain chat format in llama-server too (through --jinja), so prompts are as long.
#
# Model: MODEL if set, else a random-weight GGUF of SHAPE and TYPE written by make_random_gguf into
# MODELS_DIR (llama.cpp's tensor names; the tokenizer of the shared Llama model).
#
# Environment:
#   LLAMA_SERVER  llama-server built with -DGGML_CUDA=ON (required; llama.cpp is built outside this
#                 repository, e.g. b4748 with -DCMAKE_CUDA_ARCHITECTURES=90)
#   BIN_DIR       slm and make_random_gguf of an -DSLM_CUDA=ON -DSLM_BENCH=ON build (default: the
#                 staged tests/cuda/stage_compare.sh folder, build-cuda/server-compare)
#   SHARED        ../shared/models or the staged copy (default: BIN_DIR/shared/models)
#   MODELS_DIR    where the GGUF goes (default: /tmp/slm-cuda-models)
#   OUT_DIR       results: server-compare.jsonl (one line per phase), server-compare.md (the table),
#                 both servers' logs (default: $OUT when set, else /tmp/slm-server-compare)
#   DEVICE        cuda (llama-server -ngl 99) or cpu (-ngl 0), for a try-out without a GPU (cuda)
#   MODEL  SHAPE (tinyllama-1.1b)  TYPE (q4_k_m)  LAYERS (the shape's; fewer: a quicker try-out file)
#   SLOTS (32)  CTX per slot (512)  CLIENTS ("1 8 32")  PHASE_SECONDS (20)  ROUNDS (2)  MAX_TOKENS (128)
#   WARMUP        seconds of unrecorded load at the most clients after each start (3)
#   PORT (8087)   LLAMA_ARGS, SLM_ARGS: extra arguments for either server, e.g. LLAMA_ARGS=-fa
# (PHASE_SECONDS, not SECONDS: bash's SECONDS is a clock that counts on from any value it is given.)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
: "${LLAMA_SERVER:?set LLAMA_SERVER to a llama-server built with CUDA}"
BIN_DIR="${BIN_DIR:-$repo/build-cuda/server-compare}"
SHARED="${SHARED:-$BIN_DIR/shared/models}"
MODELS_DIR="${MODELS_DIR:-/tmp/slm-cuda-models}"
OUT_DIR="${OUT_DIR:-${OUT:-/tmp/slm-server-compare}}"
DEVICE="${DEVICE:-cuda}"
MODEL="${MODEL:-}"
SHAPE="${SHAPE:-tinyllama-1.1b}"
TYPE="${TYPE:-q4_k_m}"
LAYERS="${LAYERS:-}"
SLOTS="${SLOTS:-32}"
CTX="${CTX:-512}"
CLIENTS="${CLIENTS:-1 8 32}"
PHASE_SECONDS="${PHASE_SECONDS:-20}"
ROUNDS="${ROUNDS:-2}"
MAX_TOKENS="${MAX_TOKENS:-128}"
WARMUP="${WARMUP:-3}"
PORT="${PORT:-8087}"
LLAMA_ARGS="${LLAMA_ARGS:-}"
SLM_ARGS="${SLM_ARGS:-}"
SLM="$BIN_DIR/slm"
MAKE_GGUF="$BIN_DIR/make_random_gguf"
url="http://127.0.0.1:$PORT"
sampling=(--temperature 0.8 --top-k 40 --top-p 0.95 --min-p 0.05)

case "$DEVICE" in
    cuda) ngl=99 ;;
    cpu) ngl=0 ;;
    *) echo "DEVICE is '$DEVICE'; expected cuda or cpu" >&2; exit 2 ;;
esac
# The prompts take about 20 tokens; a slot must hold them and every generated token, or the two
# servers would not do the same work (llama-server shifts its context where slm stops early).
if ((CTX < MAX_TOKENS + 64)); then
    echo "CTX ($CTX) must be at least MAX_TOKENS ($MAX_TOKENS) + 64" >&2
    exit 2
fi
mkdir -p "$MODELS_DIR" "$OUT_DIR"

if [[ -z "$MODEL" ]]; then
    MODEL="$MODELS_DIR/$SHAPE-$TYPE${LAYERS:+-$LAYERS-layers}.gguf"
    if [[ ! -f "$MODEL" ]]; then
        vocab=$(find "$SHARED"/tinyllama* -name '*.gguf' | sort | head -1)
        echo "writing $MODEL" >&2
        "$MAKE_GGUF" --shape "$SHAPE" --vocab-from "$vocab" --type "$TYPE" --out "$MODEL" \
            ${LAYERS:+--layers "$LAYERS"} >/dev/null
    fi
fi

template_args=()
template="the model's chat template"
if ! grep -qa tokenizer.chat_template "$MODEL"; then
    # slm serves such a model with its plain chat format (src/template/chat_template.cpp); llama-server
    # would pick ChatML, about 10 prompt tokens longer, so it gets the same plain format.
    printf "%s\n\n%s" "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}" \
        "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}" > "$OUT_DIR/plain-chat-template.jinja"
    template_args=(--jinja --chat-template-file "$OUT_DIR/plain-chat-template.jinja")
    template="slm's plain chat format (the model has no template)"
fi

ready() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/v1/models", timeout=2).read()' \
        "$url" 2>/dev/null
}

server_pid=""
start_server() {  # $1: llama or slm; waits until it answers /v1/models
    local log="$OUT_DIR/$1-server.log"
    if ready; then
        echo "something already answers on port $PORT; set PORT" >&2
        exit 1
    fi
    echo "=== $(date -u +%T) start" >> "$log"
    if [[ "$1" == llama ]]; then
        # shellcheck disable=SC2086
        "$LLAMA_SERVER" -m "$MODEL" -ngl "$ngl" -np "$SLOTS" -c $((SLOTS * CTX)) --cont-batching \
            --port "$PORT" "${template_args[@]}" $LLAMA_ARGS >> "$log" 2>&1 &
    else
        # shellcheck disable=SC2086
        "$SLM" serve "$MODEL" --device "$DEVICE" --parallel "$SLOTS" --ctx "$CTX" --port "$PORT" --quiet \
            $SLM_ARGS >> "$log" 2>&1 &
    fi
    server_pid=$!
    for _ in $(seq 600); do
        ready && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "$1 server exited before it was ready; the end of $log:" >&2
            tail -20 "$log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "$1 server not ready after 300 s; see $log" >&2
    exit 1
}

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    # llama-server b4748 aborts while shutting down: its exit status, and the note bash prints on
    # stderr whenever it notices, say nothing here.
    {
        kill "$server_pid" || true
        for _ in $(seq 40); do
            kill -0 "$server_pid" || break
            sleep 0.5
        done
        kill -9 "$server_pid" || true
        wait "$server_pid"
    } 2>/dev/null || true
    server_pid=""
}
trap stop_server EXIT

load() {  # $1: clients, $2: seconds; prints load_test.py's JSON
    python3 "$repo/bench/load_test.py" --url "$url" --clients "$1" --seconds "$2" --max-tokens "$MAX_TOKENS" \
        "${sampling[@]}"
}

results="$OUT_DIR/server-compare.jsonl"
: > "$results"
# shellcheck disable=SC2086  # CLIENTS is a list
most=$(printf '%s\n' $CLIENTS | sort -n | tail -1)
for round in $(seq "$ROUNDS"); do
    # Alternate which server goes first, so that drift (clocks, heat, neighbours) hits both alike.
    for server in $( ((round % 2)) && echo "llama slm" || echo "slm llama"); do
        start_server "$server"
        ((WARMUP > 0)) && load "$most" "$WARMUP" > /dev/null
        for n in $CLIENTS; do
            load "$n" "$PHASE_SECONDS" |
                python3 "$repo/bench/compare_server_table.py" row "$server" "$round" >> "$results"
        done
        stop_server
    done
done

if [[ "$DEVICE" == cuda ]]; then
    where=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
    where="$where; all layers on the GPU"
else
    where="CPU ($(nproc) cores), llama-server -ngl 0"
fi
setting="$where; $(basename "$MODEL") ($(($(stat -c %s "$MODEL") / 1048576)) MiB); $SLOTS slots x $CTX tokens; \
max_tokens $MAX_TOKENS; ${PHASE_SECONDS} s per phase x $ROUNDS rounds; temperature 0.8 top_k 40 top_p 0.95 \
min_p 0.05; $template"
python3 "$repo/bench/compare_server_table.py" "$results" "$setting" | tee "$OUT_DIR/server-compare.md"
