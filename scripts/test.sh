#!/usr/bin/env bash
# Builds slm from scratch in build/ (warnings are errors) and runs the whole test suite with ctest.
# The README's test command and .ci/run both run this.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLM_WERROR=ON >/dev/null
ninja -C build
ctest --test-dir build --output-on-failure -j "$(nproc)"
