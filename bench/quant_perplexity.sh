#!/usr/bin/env bash
# Quantization quality next to llama.cpp, on the real models and WikiText-2 test (issue 7's checks):
#   1. `slm convert` writes an f16 GGUF of each HF model in ../shared/models;
#   2. for each TYPE, `slm quantize` and llama-quantize quantize that same f16 file; `cmp` says
#      whether the two files are byte-identical;
#   3. llama-perplexity scores the f16 file and llama-quantize's files, `slm perplexity` scores the
#      same files, and `slm perplexity --kl-base F16` gives the KL divergence from the f16 model
#      (first KLD_CHUNKS windows);
# then prints one markdown table row per model and type. Run from anywhere; files go to WORK_DIR.
#
# Environment: LLAMA_BIN (dir with llama-perplexity and llama-quantize; required), BUILD_DIR
# (slm build, default build), WORK_DIR (default /tmp/slm-quant-ppl), TYPES (default
# "q8_0 q6_k q4_k_m q4_0"), CTX (512), CHUNKS (-1: all), KLD_CHUNKS (100), THREADS (nproc),
# MODELS (default: every HF directory in ../shared/models).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
: "${LLAMA_BIN:?set LLAMA_BIN to the directory holding llama-perplexity and llama-quantize}"
BUILD_DIR="${BUILD_DIR:-$repo/build}"
WORK_DIR="${WORK_DIR:-/tmp/slm-quant-ppl}"
TYPES="${TYPES:-q8_0 q6_k q4_k_m q4_0}"
CTX="${CTX:-512}"
CHUNKS="${CHUNKS:--1}"
KLD_CHUNKS="${KLD_CHUNKS:-100}"
THREADS="${THREADS:-$(nproc)}"
SHARED="$repo/../shared"
TEXT="$SHARED/datasets/wikitext-2-raw/wiki.test.raw"
SLM="$BUILD_DIR/tools/slm/slm"
if [[ -z "${MODELS:-}" ]]; then
    MODELS=""
    for d in "$SHARED"/models/*/; do [[ -f "$d/config.json" ]] && MODELS+="$(basename "$d") "; done
fi
mkdir -p "$WORK_DIR"

llama_ppl() {  # file -> "ppl stderr MiB bpw" (size and bits/weight as llama.cpp prints them)
    local log; log="$("$LLAMA_BIN/llama-perplexity" -m "$1" -f "$TEXT" -c "$CTX" --chunks "$CHUNKS" -t "$THREADS" 2>&1)"
    echo "$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- \([0-9.]*\).*/\1 \2/p' <<<"$log")" \
         "$(sed -n 's/.*file size *= *\([0-9.]*\) MiB (\([0-9.]*\) BPW).*/\1 \2/p' <<<"$log")"
}
slm_json() {  # file [extra args] -> JSON line
    local f="$1"; shift
    "$SLM" perplexity "$f" --file "$TEXT" --ctx "$CTX" --threads "$THREADS" --json "$@" 2>/dev/null
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

echo "| model | type | identical to llama-quantize | size MiB | bits/weight | PPL llama.cpp | PPL slm | slm/llama.cpp | KLD vs f16 ($KLD_CHUNKS chunks) | same top token |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for model in $MODELS; do
    f16="$WORK_DIR/$model-f16.gguf"
    [[ -f "$f16" ]] || "$SLM" convert "$SHARED/models/$model" -o "$f16" --type f16 2>/dev/null
    for type in f16 $TYPES; do
        if [[ "$type" == f16 ]]; then
            file="$f16"; same="—"; kl='{"kld": "—", "same_top_token": "—"}'
        else
            ours="$WORK_DIR/$model-$type.gguf"; file="$WORK_DIR/ref-$model-$type.gguf"
            "$SLM" quantize "$f16" "$ours" "$type" >/dev/null 2>&1
            "$LLAMA_BIN/llama-quantize" "$f16" "$file" "${type^^}" >/dev/null 2>&1
            cmp -s "$ours" "$file" && same=yes || same=no
            kl="$(slm_json "$file" --chunks "$KLD_CHUNKS" --kl-base "$f16")"
        fi
        read -r lppl lerr mib bpw <<<"$(llama_ppl "$file")"
        s="$(slm_json "$file" --chunks "$CHUNKS")"
        sppl="$(field "$s" ppl)"; serr="$(field "$s" ppl_stderr)"
        python3 - "$model" "$type" "$same" "$mib" "$bpw" "$lppl" "$lerr" "$sppl" "$serr" "$kl" "$(field "$s" n_chunks)" <<'PY'
import json, sys
model, typ, same, mib, bpw, lppl, lerr, sppl, serr, kl, n = sys.argv[1:]
kl = json.loads(kl)
fmt = lambda v, p: v if isinstance(v, str) else f"{v:.{p}f}"
same_top = kl["same_top_token"] if isinstance(kl["same_top_token"], str) else f"{100*kl['same_top_token']:.2f}%"
print(f"| {model} | {typ} | {same} | {mib} | {bpw} | {float(lppl):.4f} ± {float(lerr):.4f} | "
      f"{float(sppl):.4f} ± {float(serr):.4f} | {100*(float(sppl)/float(lppl)-1):+.3f}% | {fmt(kl['kld'], 6)} | {same_top} |",
      flush=True)
PY
    done
done
