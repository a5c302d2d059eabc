#!/usr/bin/env bash
# Gathers the CUDA test and benchmark binaries of a build made here (-DSLM_CUDA=ON -DSLM_NATIVE=OFF)
# into BUILD/device/, with the one shared library they need beyond the C library and the GPU
# driver (libfmt), so that a machine with a GPU but without the project's build dependencies can
# run them: `tests/cuda/run_on_device.sh BUILD/device` there. CUDA's runtime is linked statically.
set -euo pipefail
build=${1:?usage: stage_for_device.sh BUILD_DIR}
dest="$build/device"
rm -rf "$dest"
mkdir -p "$dest/lib"
cp "$build/tests/test_cuda" "$build/bench_cuda_matvec" "$dest/"
for bin in "$dest/test_cuda" "$dest/bench_cuda_matvec"; do
  ldd "$bin" | awk '/libfmt/ { print $3 }' | xargs -r -I{} cp -L {} "$dest/lib/"
done
ls -la "$dest" "$dest/lib"
