#!/usr/bin/env bash
# Runs the CUDA kernel tests (test_cuda) and the matvec benchmark (bench_cuda_matvec) on a machine
# with an NVIDIA GPU, writing their logs to $OUT (or ./cuda-logs). One call of the device tool:
#   bash tests/cuda/run_on_device.sh             configure -DSLM_CUDA=ON in build-cuda-device and
#                                                build only those two targets (needs the project's
#                                                apt dependencies, scripts/setup.sh)
#   bash tests/cuda/run_on_device.sh BIN_DIR     run binaries built elsewhere and gathered by
#                                                tests/cuda/stage_for_device.sh (the device image
#                                                has CUDA but not the project's dependencies)
# Exits non-zero when a test fails or the benchmark cannot run.
set -uo pipefail
out=${OUT:-$PWD/cuda-logs}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv >"$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

if [ $# -ge 1 ]; then
  bin_dir=$(cd "$1" && pwd)
  export LD_LIBRARY_PATH="$bin_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  tests="$bin_dir/test_cuda"
  bench="$bin_dir/bench_cuda_matvec"
else
  build=build-cuda-device
  { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLM_CUDA=ON -DSLM_TESTS=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 &&
    ninja -C "$build" test_cuda bench_cuda_matvec; } 2>&1 | tee "$out/build.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed: $out/build.log"; exit 1; }
  tests="$build/tests/test_cuda"
  bench="$build/bench_cuda_matvec"
fi

status=0
"$tests" --gtest_output="xml:$out/test_cuda.xml" 2>&1 | tee "$out/test_cuda.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
"$bench" 2>&1 | tee "$out/bench_cuda_matvec.md"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
exit $status
