#!/usr/bin/env bash
# Gathers what bench/compare_server_llamacpp.sh needs on the GPU machine into one xz tarball that fits
# the device tool's 64 MiB together with the working tree: slm and make_random_gguf from a CUDA build
# made here (-DSLM_CUDA=ON -DSLM_NATIVE=OFF -DSLM_BENCH=ON), a llama-server built with CUDA outside the
# repository, the libraries they need beyond the C runtime, the driver and cuBLAS (the GPU machine has
# those), and the shared Llama model's tokenizer as a tensor-less GGUF (make_random_gguf copies it).
#   tests/cuda/stage_server_compare.sh BUILD LLAMA_SERVER   -> BUILD/server-compare.tar.xz
# Then, there (carry BUILD/server-compare.tar.xz; about 6 minutes with the defaults, the 1.1B model's
# writing included; results, the table and both servers' logs land in $OUT):
#   mkdir -p /tmp/s && tar -xJf BUILD/server-compare.tar.xz -C /tmp/s &&
#   LD_LIBRARY_PATH=/tmp/s/lib:/usr/local/cuda/lib64 LLAMA_SERVER=/tmp/s/llama-server BIN_DIR=/tmp/s \
#     bash bench/compare_server_llamacpp.sh
# SPLIT=1 writes the tarball as two parts (see the end of this script).
set -euo pipefail
build=${1:?usage: stage_server_compare.sh BUILD_DIR LLAMA_SERVER}
llama_server=${2:?usage: stage_server_compare.sh BUILD_DIR LLAMA_SERVER}
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${SLM_SHARED_DIR:-$repo/../shared}
build=$(cd "$build" && pwd)
dest="$build/server-compare"
rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/shared/models/tinyllama-spm-13m"
cp "$build/tools/slm/slm" "$build/bench/make_random_gguf" "$llama_server" "$dest/"
strip "$dest/slm" "$dest/make_random_gguf" "$dest/llama-server"
# The C runtime stays the GPU machine's own; libresolv belongs to it too: a copy from this machine's
# glibc would want private symbols of this glibc from the GPU machine's newer one.
runtime='libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|libresolv|ld-linux[^/]*'
for bin in slm make_random_gguf llama-server; do
  ldd "$dest/$bin" | awk '$3 ~ /^\// { print $3 }' |
    grep -vE "/($runtime|libcuda|libcudart|libcublas|libcublasLt)\.so" |
    xargs -r -I{} cp -Ln {} "$dest/lib/"
done
python3 "$repo/bench/gguf_vocab_only.py" "$shared/models/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf" \
  "$dest/shared/models/tinyllama-spm-13m/tinyllama-vocab.gguf"
if [[ -n "${SPLIT:-}" ]]; then
  # Two parts for when the working tree and the whole would pass the device tool's 64 MiB: carry
  # part 1 (llama-server) in one call that only unpacks it, and part 2 in the next call, made while
  # the machine is still warm (its /tmp survives between calls then).
  (cd "$dest" && tar -cf - llama-server | xz -T2 -9e > "$build/server-compare-1.tar.xz")
  (cd "$dest" && tar -cf - --exclude=./llama-server . | xz -T2 -9e > "$build/server-compare-2.tar.xz")
  ls -la "$build"/server-compare-[12].tar.xz
else
  (cd "$dest" && tar -cf - . | xz -T2 -9e > "$build/server-compare.tar.xz")
  ls -la "$build/server-compare.tar.xz"
fi
