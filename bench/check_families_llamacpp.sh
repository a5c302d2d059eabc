#!/usr/bin/env bash
# llama.cpp interop of `slm convert` for the newer families (issue 26): each fixture of
# tests/fixtures/families (gemma, gemma2, phi3, phi2; tiny random weights made by transformers) is
# converted to an f32 GGUF by slm, run by llama.cpp from the fixture's prompt token ids (greedy,
# 16 tokens), and compared with transformers' greedy tokens and logits from reference.json /
# reference.safetensors (slm's own greedy tokens equal transformers' on the same GGUF: that is
# FamilyLogits.ConvertedF32GgufMatchesTransformers in the default test run).
#
# The fixtures have no tokenizer (256 ids, no tokenizer.json) and llama-cli takes text, so the
# script gives each fixture a byte-level tokenizer.json of one token per byte (the GGUF vocabulary
# slm convert needs) and drives libllama from token ids with bench/llamacpp_token_greedy.cpp,
# compiled here against the llama.cpp build. Not part of the default test run.
#
# b4748 cannot run the gemma2 fixture: its Gemma 2 graph knows the 2B, 9B and 27B only (26, 42 and
# 46 layers; anything else aborts at the query scaling), and scales queries by key_length^-1/2
# (27B: (embedding_length / head_count)^-1/2), not by the config's query_pre_attn_scalar, which this
# fixture sets to 24 for head_dim 16. The script reports the abort. b4748 predates Gemma 3
# (llama.cpp's gemma3 came later), so the gemma3 fixture is not run here.
#
# Environment (all optional):
#   SLM           slm binary                          (default: build/tools/slm/slm)
#   LLAMA_CPP_SRC llama.cpp source tree (headers)     (default: /tmp/lc)
#   LLAMA_CPP_LIB directory of libllama.so, libggml*  (default: $LLAMA_CPP_SRC/b/bin)
#   WORK          scratch directory                    (default: a fresh mktemp -d)
#   FAMILIES      which fixtures                        (default: gemma gemma2 phi3 phi2)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
SLM="${SLM:-build/tools/slm/slm}"
LLAMA_CPP_SRC="${LLAMA_CPP_SRC:-/tmp/lc}"
LLAMA_CPP_LIB="${LLAMA_CPP_LIB:-$LLAMA_CPP_SRC/b/bin}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
FAMILIES="${FAMILIES:-gemma gemma2 phi3 phi2}"
N_PREDICT=16

driver="$WORK/llamacpp_token_greedy"
c++ -std=c++17 -O2 -o "$driver" bench/llamacpp_token_greedy.cpp -I"$LLAMA_CPP_SRC/include" \
    -I"$LLAMA_CPP_SRC/ggml/include" -L"$LLAMA_CPP_LIB" -lllama -lggml -lggml-base -Wl,-rpath,"$LLAMA_CPP_LIB"

for family in $FAMILIES; do
    fixture="tests/fixtures/families/$family"
    hf="$WORK/$family-hf"
    mkdir -p "$hf"
    for f in config.json generation_config.json model.safetensors; do ln -sf "$repo/$fixture/$f" "$hf/$f"; done
    python3 - "$hf/tokenizer.json" <<'PY'
import json, sys
# GPT-2's byte-to-character map: printable bytes stand for themselves, the others for 256 + n.
printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
chars, n = {}, 0
for b in range(256):
    if b in printable: chars[b] = chr(b)
    else: chars[b] = chr(256 + n); n += 1
vocab = {chars[b]: b for b in range(256)}
json.dump({"version": "1.0", "added_tokens": [],
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
           "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": vocab, "merges": []}}, open(sys.argv[1], "w"))
PY
    gguf="$WORK/$family-f32.gguf"
    # general.name without "phi3": llama.cpp then looks for Phi-3's <|end|> tokens, which a byte
    # vocabulary lacks.
    "$SLM" convert "$hf" -o "$gguf" --type f32 --name "slm tiny fixture" >/dev/null 2>"$WORK/$family-convert.log" ||
        { echo "$family: slm convert failed:"; cat "$WORK/$family-convert.log"; continue; }
    n_prompts=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['prompts']))" "$fixture/reference.json")
    for ((i = 0; i < n_prompts; ++i)); do
        ids=$(python3 -c "import json,sys; print(' '.join(map(str, json.load(open(sys.argv[1]))['prompts'][int(sys.argv[2])]['ids'])))" \
              "$fixture/reference.json" "$i")
        log="$WORK/$family-$i.log"
        if ! out=$("$driver" "$gguf" "$N_PREDICT" "$WORK/$family-$i.f32" $ids 2>"$log"); then
            echo "$family prompt $i: llama.cpp failed: $(grep -E 'error|abort|ABORT|fatal|what\(\)' "$log" | head -3 | tr '\n' ' ')"
            continue
        fi
        # Greedy tokens and logits of each step against transformers', up to the first difference.
        python3 - "$fixture" "$i" "$WORK/$family-$i.f32" "$family" "$out" <<'PY'
import json, struct, sys
fixture, i, logits_path, family, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ref = json.load(open(f"{fixture}/reference.json"))["prompts"][i]
ours = [int(t) for t in out.split(":")[1].split()]
def read_safetensors(path, name):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    info = json.loads(data[8:8 + n])[name]
    a, b = info["data_offsets"]
    raw = data[8 + n + a:8 + n + b]
    return list(struct.unpack(f"<{len(raw) // 4}f", raw)), info["shape"]
theirs, shape = read_safetensors(f"{fixture}/reference.safetensors", f"decode_{i}")
V = shape[-1]
raw = open(logits_path, "rb").read()
lc = list(struct.unpack(f"<{len(raw) // 4}f", raw))
greedy = ref["greedy"]
agree = 0
while agree < min(len(ours), len(greedy)) and ours[agree] == greedy[agree]: agree += 1
worst = 0.0
for s in range(min(agree + 1, len(greedy))):
    a, b = lc[s * V:(s + 1) * V], theirs[s * V:(s + 1) * V]
    worst = max(worst, max(abs(x - y) for x, y in zip(a, b)) / max(abs(y) for y in b))
print(f"{family} prompt {i} ({len(ref['ids'])} ids): llama.cpp greedy {'==' if agree == len(greedy) else '!='} "
      f"transformers ({agree}/{len(greedy)} tokens agree), max rel logit error {worst:.2e} over {min(agree + 1, len(greedy))} steps")
if agree < len(greedy): print(f"    llama.cpp:    {ours}\n    transformers: {greedy}")
PY
    done
done
