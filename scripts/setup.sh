#!/usr/bin/env bash
# Installs every build, test and tool dependency of slm from Debian 12 packages.
# Idempotent and non-interactive; nothing is downloaded at build or test time.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev          # libFuzzer targets and the sanitizer build
  # libraries
  nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libutf8proc-dev
  libhwy-dev libcpp-httplib-dev libbrotli-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
  libsqlite3-dev libedit-dev libhnswlib-dev libpoppler-cpp-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # reference tools run on this machine (fixture scripts, conformance data)
  python3 python3-numpy python3-nltk python3-absl
  chromium                          # the web chat page's browser tests (tests/webui), headless
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The server's client test uses Node.js and npm; the machine image ships them
# (Debian's nodejs conflicts with that install, so install it only where none is present).
if ! command -v node >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
# The official openai npm client for tests/server (pinned by its package-lock.json; git-ignored).
# Without it that one test skips with a message, so a failed install only warns.
clients="$(dirname "$0")/../tests/server/clients"
if [ ! -d "$clients/node_modules/openai" ]; then
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "warning: npm ci in tests/server/clients failed; the openai client test will skip" >&2
fi
# The web chat page's libraries (Markdown, sanitiser, highlighter), embedded in the binary at
# build time: the build stops without them (web/package-lock.json; git-ignored node_modules).
# --omit=dev leaves out Lighthouse, which only bench/webui_lighthouse.sh uses.
web="$(dirname "$0")/../web"
if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  (cd "$web" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
# playwright-core for the page's browser tests (tests/webui; it drives the system Chromium and
# downloads no browser). Without it that test skips with a message.
webui_tests="$(dirname "$0")/../tests/webui"
if [ ! -f "$webui_tests/node_modules/.package-lock.json" ] ||
   [ "$webui_tests/package-lock.json" -nt "$webui_tests/node_modules/.package-lock.json" ]; then
  (cd "$webui_tests" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "warning: npm ci in tests/webui failed; the web page's browser test will skip" >&2
fi
echo "slm dependencies are installed."
