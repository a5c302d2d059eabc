#!/usr/bin/env bash
# Gathers what a side-by-side run against llama.cpp needs on the GPU machine into one xz tarball that
# fits the device tool's 64 MiB together with the working tree: slm and make_random_gguf from a CUDA
# build made here (-DSLM_CUDA=ON -DSLM_NATIVE=OFF -DSLM_BENCH=ON), the peer (llama-bench or
# llama-server, built with CUDA outside the repository), the libraries they need beyond the C
# runtime, the driver and cuBLAS (the GPU machine has those), and the shared Llama model's tokenizer
# as a tensor-less GGUF (bench/gguf_vocab_only.py; make_random_gguf copies its vocabulary).
#   tests/cuda/stage_compare.sh BUILD LLAMA_BENCH    -> BUILD/compare.tar.xz
#   tests/cuda/stage_compare.sh BUILD LLAMA_SERVER   -> BUILD/server-compare.tar.xz
# Then, there (carry the tarball):
#   mkdir -p /tmp/c && tar -xJf BUILD/compare.tar.xz -C /tmp/c &&
#   LD_LIBRARY_PATH=/tmp/c/lib:/usr/local/cuda/lib64 LLAMA_BENCH=/tmp/c/llama-bench BIN_DIR=/tmp/c \
#     BANDWIDTH=4629 bash bench/compare_llamacpp_cuda.sh
# (BANDWIDTH: bench_cuda_matvec --ceilings' stream_read on that GPU; the binary is left out for room.)
#   mkdir -p /tmp/s && tar -xJf BUILD/server-compare.tar.xz -C /tmp/s &&
#   LD_LIBRARY_PATH=/tmp/s/lib:/usr/local/cuda/lib64 LLAMA_SERVER=/tmp/s/llama-server BIN_DIR=/tmp/s \
#     bash bench/compare_server_llamacpp.sh
# (about 6 minutes with the defaults, the 1.1B model's writing included; results land in $OUT.)
# SPLIT=1 writes the tarball as two parts, the peer alone (NAME-1.tar.xz) and the rest (NAME-2):
# when the working tree and the whole pass 64 MiB, carry part 1 in a call that only unpacks it and
# part 2 in the next call, made while the machine is still warm (its /tmp survives between calls).
set -euo pipefail
build=${1:?usage: stage_compare.sh BUILD_DIR LLAMA_BENCH|LLAMA_SERVER}
peer=${2:?usage: stage_compare.sh BUILD_DIR LLAMA_BENCH|LLAMA_SERVER}
peer_name=$(basename "$peer")
case "$peer_name" in
  llama-bench) name=compare ;;
  llama-server) name=server-compare ;;
  *) echo "stage_compare.sh: the peer is llama-bench or llama-server, not $peer_name" >&2; exit 2 ;;
esac
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${SLM_SHARED_DIR:-$repo/../shared}
build=$(cd "$build" && pwd)
dest="$build/$name"
rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/shared/models/tinyllama-spm-13m"
cp "$build/tools/slm/slm" "$build/bench/make_random_gguf" "$peer" "$dest/"
strip "$dest/slm" "$dest/make_random_gguf" "$dest/$peer_name"
# The C runtime stays the GPU machine's own; libresolv belongs to it too: a copy from this machine's
# glibc would want private symbols of this glibc from the GPU machine's newer one.
runtime='libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|libresolv|ld-linux[^/]*'
for bin in slm make_random_gguf "$peer_name"; do
  ldd "$dest/$bin" | awk '$3 ~ /^\// { print $3 }' |
    grep -vE "/($runtime|libcuda|libcudart|libcublas|libcublasLt)\.so" |
    xargs -r -I{} cp -Ln {} "$dest/lib/"
done
python3 "$repo/bench/gguf_vocab_only.py" "$shared/models/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf" \
  "$dest/shared/models/tinyllama-spm-13m/tinyllama-vocab.gguf"
if [[ -n "${SPLIT:-}" ]]; then
  (cd "$dest" && tar -cf - "$peer_name" | xz -T2 -9e > "$build/$name-1.tar.xz")
  (cd "$dest" && tar -cf - --exclude="./$peer_name" . | xz -T2 -9e > "$build/$name-2.tar.xz")
  ls -la "$build/$name"-[12].tar.xz
else
  (cd "$dest" && tar -cf - . | xz -T2 -9e > "$build/$name.tar.xz")
  ls -la "$build/$name.tar.xz"
fi
