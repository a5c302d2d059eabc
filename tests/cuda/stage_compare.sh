#!/usr/bin/env bash
# Gathers what bench/compare_llamacpp_cuda.sh needs on the GPU machine into one xz tarball that fits
# the device tool's 64 MiB together with the working tree: slm and make_random_gguf from a CUDA
# build made here (-DSLM_CUDA=ON -DSLM_NATIVE=OFF -DSLM_BENCH=ON), a llama-bench built with CUDA
# outside the repository, the libraries they need beyond the C runtime, the driver and cuBLAS
# (the GPU machine's CUDA toolkit has those), and the shared Llama model's tokenizer as a
# tensor-less GGUF (bench/gguf_vocab_only.py; make_random_gguf copies its vocabulary).
#   tests/cuda/stage_compare.sh BUILD LLAMA_BENCH   -> BUILD/compare.tar.xz
# Then, there (carry BUILD/compare.tar.xz):
#   mkdir -p /tmp/c && tar -xJf BUILD/compare.tar.xz -C /tmp/c &&
#   LD_LIBRARY_PATH=/tmp/c/lib:/usr/local/cuda/lib64 LLAMA_BENCH=/tmp/c/llama-bench BIN_DIR=/tmp/c \
#     BANDWIDTH=4629 bash bench/compare_llamacpp_cuda.sh
# (BANDWIDTH: bench_cuda_matvec --ceilings' stream_read on that GPU; the binary is left out for room.)
set -euo pipefail
build=${1:?usage: stage_compare.sh BUILD_DIR LLAMA_BENCH}
llama_bench=${2:?usage: stage_compare.sh BUILD_DIR LLAMA_BENCH}
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${SLM_SHARED_DIR:-$repo/../shared}
build=$(cd "$build" && pwd)
dest="$build/compare"
rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/shared/models/tinyllama-spm-13m"
cp "$build/tools/slm/slm" "$build/bench/make_random_gguf" "$llama_bench" "$dest/"
strip "$dest/slm" "$dest/make_random_gguf" "$dest/llama-bench"
for bin in slm make_random_gguf llama-bench; do
  ldd "$dest/$bin" | awk '$3 ~ /^\// { print $3 }' |
    grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt)\.so' |
    xargs -r -I{} cp -Ln {} "$dest/lib/"
done
python3 "$repo/bench/gguf_vocab_only.py" "$shared/models/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf" \
  "$dest/shared/models/tinyllama-spm-13m/tinyllama-vocab.gguf"
(cd "$dest" && tar -cf - . | xz -T2 -9e > "$build/compare.tar.xz")
ls -la "$build/compare.tar.xz"
