#!/usr/bin/env bash
# Gathers what the device machine runs from a CUDA build made here (-DSLM_CUDA=ON -DSLM_NATIVE=OFF)
# into BUILD/device/: the CUDA tests, the matvec benchmark, `slm` and make_random_gguf (stripped;
# configure with -DSLM_BENCH=ON), every shared
# library they need beyond the C/C++ runtime and the GPU driver (the device image has CUDA but not
# the project's dependencies), and the models the tests and the benchmark read (../shared/models,
# MODELS=gguf: the q8_0 GGUFs with their tokenizers; MODELS=hf: the bf16 HF directories; both
# do not fit in one call's 64 MiB). Then, there: `tests/cuda/run_on_device.sh BUILD/device`.
set -euo pipefail
build=${1:?usage: stage_for_device.sh BUILD_DIR}
models=${MODELS:-gguf}
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${SLM_SHARED_DIR:-$repo/../shared}
dest="$build/device"
rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/shared/models"
bins="test_cuda bench_cuda_matvec slm make_random_gguf"
cp "$build/tests/test_cuda" "$build/bench_cuda_matvec" "$build/tools/slm/slm" "$build/bench/make_random_gguf" "$dest/"
for bin in $bins; do strip "$dest/$bin"; done
# cuBLAS is left out: the GPU machine's CUDA toolkit has it (and it is hundreds of megabytes).
for bin in $bins; do
  bin="$dest/$bin"
  ldd "$bin" | awk '$3 ~ /^\// { print $3 }' |
    grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*|libcuda|libcublas|libcublasLt)\.so' |
    xargs -r -I{} cp -Ln {} "$dest/lib/"
done
for dir in "$shared"/models/*/; do
  name=$(basename "$dir")
  mkdir -p "$dest/shared/models/$name"
  cp "$dir"/*.json "$dest/shared/models/$name/"
  [ -f "$dir/tokenizer.model" ] && cp "$dir/tokenizer.model" "$dest/shared/models/$name/"
  [ -f "$dir/chat_template.jinja" ] && cp "$dir/chat_template.jinja" "$dest/shared/models/$name/"
  if [ "$models" = gguf ]; then cp "$dir"/*.gguf "$dest/shared/models/$name/"; else cp "$dir"/*.safetensors "$dest/shared/models/$name/"; fi
done
# wikitext-2's test set: the perplexity test and `slm perplexity --device cuda`.
mkdir -p "$dest/shared/datasets/wikitext-2-raw"
cp "$shared/datasets/wikitext-2-raw/wiki.test.raw" "$dest/shared/datasets/wikitext-2-raw/"
du -sh "$dest" "$dest/lib" "$dest/shared"
