#!/usr/bin/env bash
# Lighthouse on the web chat page of `slm serve` (issue 28): @lhci/cli (web/package.json's dev
# dependency) runs Debian's Chromium headless against the page served from the binary on a
# loopback port, once, with the desktop preset, and keeps the report on disk (no upload). Prints
# the accessibility, best-practices and performance scores, and what the first load transferred
# (compressed bytes, as the browser received them). Not part of the default test run.
#
# The first run installs the dev dependencies into web/node_modules (`npm ci`, from the lock file);
# scripts/setup.sh installs only what the build embeds.
#
# Environment (all optional):
#   SLM     slm binary                  (default: build/tools/slm/slm)
#   MODEL   model to serve              (default: ../shared/models/tinyqwen2-bpe-11m)
#   OUT     where the reports go        (default: a fresh mktemp -d)
#   CHROME_PATH                         (default: /usr/bin/chromium)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
SLM="${SLM:-build/tools/slm/slm}"
MODEL="${MODEL:-../shared/models/tinyqwen2-bpe-11m}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"

if [ ! -x web/node_modules/.bin/lhci ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

log="$OUT/serve.log"
"$SLM" serve "$MODEL" --host 127.0.0.1 --port 0 --quiet 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "slm serve did not start" >&2; exit 1; }

profile="$(mktemp -d)"
web/node_modules/.bin/lhci collect --url="$url/" --numberOfRuns=1 --settings.preset=desktop \
  --settings.chromeFlags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$profile" \
  >"$OUT/collect.log" 2>&1 || { cat "$OUT/collect.log" >&2; exit 1; }
web/node_modules/.bin/lhci upload --target=filesystem --outputDir="$OUT/report" >>"$OUT/collect.log" 2>&1

report="$(ls "$OUT"/report/*.report.json | head -1)"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const c = r.categories;
for (const k of ["accessibility", "best-practices", "performance"]) console.log(`${k.padEnd(15)} ${Math.round(c[k].score * 100)}`);
const items = r.audits["network-requests"].details.items;
const bytes = items.reduce((s, i) => s + (i.transferSize || 0), 0);
console.log(`first load      ${items.length} requests, ${(bytes / 1024).toFixed(1)} KiB transferred (compressed)`);
for (const [id, a] of Object.entries(r.audits))
  if (a.score !== null && a.score < 1 && ["accessibility", "best-practices"].some((k) => c[k].auditRefs.some((x) => x.id === id && x.weight > 0)))
    console.log(`  below full score: ${id}: ${a.title}`);
' "$report"
echo "report: ${report%.json}.html"
