#!/bin/sh
# Runs each libFuzzer target for SECONDS (default 60) on its seed corpus, one after the other.
# Build first:  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DSLM_FUZZ=ON -DSLM_TESTS=OFF
#               ninja -C build-fuzz fuzz_gguf fuzz_safetensors fuzz_config fuzz_tokenizer fuzz_template fuzz_train_data fuzz_lora_config fuzz_teacher_cache
# Usage:        fuzz/run.sh [SECONDS] [BUILD_DIR]      (crashes are saved in fuzz/artifacts/)
set -eu
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../build-fuzz}
[ -d "$here/corpus-gguf" ] || python3 "$here/make_corpus.py"
mkdir -p "$here/artifacts"
status=0
for target in gguf safetensors config tokenizer template train_data lora_config teacher_cache; do
    mkdir -p "$here/corpus-$target"  # tokenizer and template start from an empty corpus
    echo "== fuzz_$target for ${seconds}s"
    "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$here/artifacts/$target-" "$here/corpus-$target" || status=1
done
exit $status
