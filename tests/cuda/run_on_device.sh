#!/usr/bin/env bash
# Runs the CUDA tests (test_cuda: kernels against the CPU references, and models against the CPU's
# forward), the matvec benchmark and `slm bench --device cuda` on the staged models, on a machine
# with an NVIDIA GPU, writing their logs to $OUT (or ./cuda-logs). One call of the device tool:
#   bash tests/cuda/run_on_device.sh             configure -DSLM_CUDA=ON in build-cuda-device and
#                                                build there (needs the project's apt dependencies,
#                                                scripts/setup.sh; models from ../shared)
#   bash tests/cuda/run_on_device.sh BIN_DIR     run binaries and models gathered here by
#                                                tests/cuda/stage_for_device.sh (the device image
#                                                has CUDA but not the project's dependencies)
# Then `slm bench --device cuda` (-p 512 -n 128 -r 3) on the staged models and on random-weight
# GGUFs with TinyLlama-1.1B and Llama-2-7B shapes (make_random_gguf; SHAPES, TYPES choose) made
# in $MODELS_DIR (default /tmp/slm-cuda-models; SHAPES= for none). SKIP_BENCH=1 leaves out every benchmark.
# Exits non-zero when a test fails or a benchmark cannot run.
set -uo pipefail
out=${OUT:-$PWD/cuda-logs}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv >"$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
export SLM_SOURCE_DIR=$PWD

if [ $# -ge 1 ]; then
  bin_dir=$(cd "$1" && pwd)
  export LD_LIBRARY_PATH="$bin_dir/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export SLM_SHARED_DIR="$bin_dir/shared"
  tests="$bin_dir/test_cuda"
  bench="$bin_dir/bench_cuda_matvec"
  slm="$bin_dir/slm"
  make_gguf="$bin_dir/make_random_gguf"
else
  build=build-cuda-device
  { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLM_CUDA=ON -DSLM_TESTS=ON -DSLM_WEBUI=OFF \
      -DCMAKE_CUDA_ARCHITECTURES=90 &&
    ninja -C "$build" test_cuda bench_cuda_matvec slm make_random_gguf; } 2>&1 | tee "$out/build.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed: $out/build.log"; exit 1; }
  tests="$build/tests/test_cuda"
  bench="$build/bench_cuda_matvec"
  slm="$build/tools/slm/slm"
  make_gguf="$build/bench/make_random_gguf"
fi

status=0
"$tests" --gtest_output="xml:$out/test_cuda.xml" 2>&1 | tee "$out/test_cuda.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if [ -z "${SKIP_BENCH:-}" ]; then
  if [ -x "$bench" ]; then
    "$bench" 2>&1 | tee "$out/bench_cuda_matvec.md"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  fi
  for gguf in "${SLM_SHARED_DIR:-../shared}"/models/*/*.gguf; do
    [ -f "$gguf" ] || continue
    for device in cuda cpu; do
      "$slm" bench "$gguf" --device "$device" -p 512 -n 128 -r 3 2>&1 | tee -a "$out/slm_bench.md"
      [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    done
  done
  # Perplexity of every staged model over all of wikitext-2's test set on both devices.
  wiki="${SLM_SHARED_DIR:-../shared}/datasets/wikitext-2-raw/wiki.test.raw"
  for gguf in "${SLM_SHARED_DIR:-../shared}"/models/*/*.gguf; do
    [ -f "$gguf" ] && [ -f "$wiki" ] || continue
    for device in cuda cpu; do
      echo "$(basename "$gguf") --device $device: $("$slm" perplexity "$gguf" -f "$wiki" --device "$device" --json 2>/dev/null)" |
        tee -a "$out/perplexity.txt"
    done
  done
  models_dir=${MODELS_DIR:-/tmp/slm-cuda-models}
  mkdir -p "$models_dir"
  vocab=$(ls "${SLM_SHARED_DIR:-../shared}"/models/tinyllama*/*.gguf | head -1)
  for shape in ${SHAPES-tinyllama-1.1b llama-2-7b}; do
    for type in ${TYPES:-q4_0 q4_k_m q8_0}; do
      gguf="$models_dir/$shape-$type.gguf"
      [ -f "$gguf" ] || "$make_gguf" --shape "$shape" --vocab-from "$vocab" --type "$type" --out "$gguf" >/dev/null
      "$slm" bench "$gguf" --device cuda -p 512 -n 128 -r 3 2>&1 | tee -a "$out/slm_bench.md"
      [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    done
  done
fi
exit $status
