#!/usr/bin/env bash
# Embedding speed, slm vs PyTorch on the CPU (issue 27): `slm embed` and BERT's forward written in
# Debian's python3-torch (bench/embed_vs_torch.py, run as sentence-transformers runs it) on the same
# random-weight bge-small-shaped BertModel (12 layers, hidden 384, 1536 intermediate, vocab 30522;
# CLS pooling + Normalize) and the same 128 texts (20 to 200 words), with the same threads. Runs
# alternate (torch, slm f32, slm q8_0 GGUF, ...) so that a busy machine weighs on each alike; the
# median texts/s of each is reported, and slm's vectors are checked against torch's first.
# slm's time includes tokenizing; torch's does not.
#
# Environment (all optional):
#   SLM      slm binary                      (default: build/tools/slm/slm)
#   THREADS  threads for both                (default: nproc)
#   RUNS     timed runs of each              (default: 5)
#   WORK     scratch directory (model, texts) (default: /tmp/slm-embed-bench)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
SLM="${SLM:-build/tools/slm/slm}"
THREADS="${THREADS:-$(nproc)}"
RUNS="${RUNS:-5}"
WORK="${WORK:-/tmp/slm-embed-bench}"
PY=/usr/bin/python3  # Debian's interpreter, where python3-torch lives

if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "installing python3-torch (Debian)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y python3-torch; else sudo apt-get install -y python3-torch; fi
fi

mkdir -p "$WORK"
model="$WORK/bge-small-random" texts="$WORK/texts.txt"
[ -f "$model/model.safetensors" ] || "$PY" bench/embed_vs_torch.py make "$model" "$texts"
[ -f "$WORK/bge-small-random-q8_0.gguf" ] || SLM_NO_PROGRESS=1 "$SLM" convert "$model" -o "$WORK/bge-small-random-q8_0.gguf" --type q8_0

echo "machine: $(lscpu | grep -i 'model name' | sed 's/.*: *//'), $(nproc) cores," \
     "$(lscpu | grep -io 'avx512_vnni\|avx512f\|avx2' | sort -u | tr '\n' ' ')"
echo "threads: $THREADS, texts: $(wc -l < "$texts"), words: $(wc -w < "$texts")"

# Correctness first: slm's f32 vectors against torch's.
SLM_NO_PROGRESS=1 "$SLM" embed "$model" --file "$texts" -o "$WORK/slm.npy" -t "$THREADS" 2>/dev/null
"$PY" bench/embed_vs_torch.py run "$model" "$texts" "$THREADS" --check "$WORK/slm.npy" | grep 'max |'

slm_rate() {  # the texts/s of one `slm embed` run
    SLM_NO_PROGRESS=1 "$SLM" embed "$1" --file "$texts" -o "$WORK/out.npy" -t "$THREADS" 2>&1 >/dev/null |
        sed -n 's/.*: \([0-9.]*\) texts\/s/\1/p'
}
torch=() f32=() q8=()
for run in $(seq "$RUNS"); do
    torch+=("$("$PY" bench/embed_vs_torch.py run "$model" "$texts" "$THREADS" | sed -n 's/torch texts\/s //p')")
    f32+=("$(slm_rate "$model")")
    q8+=("$(slm_rate "$WORK/bge-small-random-q8_0.gguf")")
    echo "run $run: torch ${torch[-1]}  slm f32 ${f32[-1]}  slm q8_0 ${q8[-1]} texts/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
mt=$(median "${torch[@]}") mf=$(median "${f32[@]}") mq=$(median "${q8[@]}")
echo "median texts/s: torch $mt, slm f32 $mf ($(awk "BEGIN {printf \"%.2f\", $mf / $mt}")x), slm q8_0 $mq ($(awk "BEGIN {printf \"%.2f\", $mq / $mt}")x)"
