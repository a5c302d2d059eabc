#!/usr/bin/env bash
# Two builds of slm side by side on the GPU, alternating, on the same GGUF files: what a change
# of the generation path (sampling, the server's steps) gains where `slm bench` does not look.
#   generation: `slm run --json` of N_PREDICT tokens, greedy and sampled (top-k 40, top-p 0.95,
#               min-p 0.05, temperature 0.8: llama.cpp's defaults), the generated tokens/s;
#   server:     `slm serve --parallel 32`, bench/load_test.py at 1, 8 and 32 clients (the same
#               sampling), the generated tokens/s of every client together.
# One JSON line per measurement into $OUT_DIR/ab-builds.jsonl, and a table of medians on stdout.
#   BASE=old/slm NEW=new/slm MAKE_GGUF=.../make_random_gguf SHARED=../shared bash bench/cuda/ab_builds.sh
set -euo pipefail

BASE="${BASE:?the first build's slm}"
NEW="${NEW:?the second build's slm}"
MAKE_GGUF="${MAKE_GGUF:?make_random_gguf}"
SHARED="${SHARED:-../shared}"
MODELS_DIR="${MODELS_DIR:-/tmp/ab-models}"
OUT_DIR="${OUT_DIR:-/tmp/ab-out}"
SPECS="${SPECS:-tinyllama-1.1b:q4_0 llama-2-7b:q4_0}"
SERVER_SPEC="${SERVER_SPEC:-tinyllama-1.1b:q4_k_m}"
ROUNDS="${ROUNDS:-3}"
N_PREDICT="${N_PREDICT:-256}"
PHASE_SECONDS="${PHASE_SECONDS:-15}"
PORT="${PORT:-8093}"
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$MODELS_DIR" "$OUT_DIR"
results="$OUT_DIR/ab-builds.jsonl"
: > "$results"

model_file() {  # shape:type -> a random-weight GGUF of that shape (written once)
    local shape="${1%%:*}" type="${1##*:}" f
    f="$MODELS_DIR/$shape-$type.gguf"
    if [[ ! -f "$f" ]]; then
        local vocab
        vocab=$(find "$SHARED"/models/tinyllama* -name '*.gguf' | sort | head -1)
        "$MAKE_GGUF" --shape "$shape" --vocab-from "$vocab" --type "$type" --out "$f" > /dev/null
    fi
    echo "$f"
}

sampled=(--temp 0.8 --top-k 40 --top-p 0.95 --min-p 0.05 --seed 1)
for spec in $SPECS; do
    model=$(model_file "$spec")
    for round in $(seq "$ROUNDS"); do
        for build in base new; do
            bin=$BASE; [[ $build == new ]] && bin=$NEW
            for mode in greedy sampled; do
                args=(--greedy); [[ $mode == sampled ]] && args=("${sampled[@]}")
                tps=$("$bin" run "$model" --device cuda -p "Once upon a time" -n "$N_PREDICT" --ignore-eos --json \
                    "${args[@]}" 2> /dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["timings"]["generated_tokens_per_s"])')
                printf '{"what":"run","model":"%s","mode":"%s","build":"%s","round":%d,"tokens_per_s":%s}\n' \
                    "$spec" "$mode" "$build" "$round" "$tps" >> "$results"
            done
        done
    done
done

ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' \
    "http://127.0.0.1:$PORT/v1/models" 2> /dev/null; }
model=$(model_file "$SERVER_SPEC")
for round in $(seq "$ROUNDS"); do
    for build in base new; do
        bin=$BASE; [[ $build == new ]] && bin=$NEW
        "$bin" serve "$model" --device cuda --parallel 32 --ctx 512 --port "$PORT" --quiet > "$OUT_DIR/serve-$build.log" 2>&1 &
        pid=$!
        for _ in $(seq 300); do ready && break; sleep 0.2; done
        for clients in 1 8 32; do
            tps=$(python3 "$here/load_test.py" --url "http://127.0.0.1:$PORT" --clients "$clients" \
                --seconds "$PHASE_SECONDS" --max-tokens 128 --temperature 0.8 --top-k 40 --top-p 0.95 --min-p 0.05 |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["load"]["tokens_per_s"])')
            printf '{"what":"server","model":"%s","clients":%d,"build":"%s","round":%d,"tokens_per_s":%s}\n' \
                "$SERVER_SPEC" "$clients" "$build" "$round" "$tps" >> "$results"
        done
        kill "$pid"; wait "$pid" 2> /dev/null || true
    done
done

python3 - "$results" << 'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = sorted({(r["what"], r["model"], r.get("mode") or f'{r["clients"]} clients') for r in rows})
print(f'{"measure":<44} {"base":>9} {"new":>9} {"new/base":>9}')
for what, model, mode in keys:
    med = {}
    for build in ("base", "new"):
        vals = [r["tokens_per_s"] for r in rows if (r["what"], r["model"], r.get("mode") or f'{r["clients"]} clients') ==
                (what, model, mode) and r["build"] == build]
        med[build] = statistics.median(vals)
    print(f'{what + " " + model + " " + mode:<44} {med["base"]:9.1f} {med["new"]:9.1f} {med["new"] / med["base"]:9.3f}')
EOF
