#!/usr/bin/env python3
"""The side-by-side table of bench/compare_server_llamacpp.sh: slm serve against llama-server under the
same concurrent streaming load.

  compare_server_table.py row SERVER ROUND < LOAD_JSON   one phase as a JSON line for RESULTS (LOAD_JSON:
                                                         what bench/load_test.py prints), and a
                                                         progress line on stderr
  compare_server_table.py RESULTS SETTING

RESULTS: JSON Lines, one per phase ({"server": "llama"|"slm", "round", "clients", "tokens_per_s",
"ttft_p50_ms", "requests", "failed", "short", "prompt_tokens_mean", ...}); SETTING: what the first line says the
runs shared (model, device, slots, max_tokens). Prints per number of clients each server's median
generated tokens/s and p50 time to first token over the rounds, the ratio slm / llama-server of the
medians with the range of the per-round ratios, and the counts that say whether the load was the same
for both: requests answered, failed, stopped before max_tokens, and their mean prompt tokens.
"""
import json
import statistics
import sys

if sys.argv[1] == "row":
    server, round_ = sys.argv[2], int(sys.argv[3])
    r = json.load(sys.stdin)["load"]
    print(json.dumps({"server": server, "round": round_, **r}))
    print(f"round {round_} {server:5} {r['clients']:3} clients: {r['tokens_per_s']:8.1f} tok/s, "
          f"{r['requests']} requests, {r['failed']} failed, {r['short']} short", file=sys.stderr)
    sys.exit(0)

path, setting = sys.argv[1:3]
rows = [json.loads(line) for line in open(path) if line.strip()]
clients = sorted({r["clients"] for r in rows})


def runs(server, n):
    return sorted((r for r in rows if r["server"] == server and r["clients"] == n), key=lambda r: r["round"])


def median(server, n, field):
    v = [r[field] for r in runs(server, n)]
    return statistics.median(v) if v else float("nan")


def total(server, n, field):
    return sum(r[field] for r in runs(server, n))


def prompt_tokens(server, n):
    v = [r["prompt_tokens_mean"] for r in runs(server, n) if r.get("prompt_tokens_mean") is not None]
    return f"{statistics.mean(v):.0f}" if v else "?"


print(setting)
print("| clients | llama-server tok/s | slm tok/s | slm / llama | per round | TTFT p50 llama ms | TTFT p50 slm ms "
      "| requests llama/slm | failed llama/slm | short llama/slm | prompt tokens llama/slm |")
print("|---:|---:|---:|---:|---|---:|---:|---|---|---|---|")
for n in clients:
    llama, slm = median("llama", n, "tokens_per_s"), median("slm", n, "tokens_per_s")
    # A round ran both servers back to back: its ratio cancels the slow drift of a shared machine.
    per_round = [s["tokens_per_s"] / max(l["tokens_per_s"], 1e-9) for l, s in zip(runs("llama", n), runs("slm", n))]
    spread = f"{min(per_round):.2f}-{max(per_round):.2f}" if per_round else "-"
    print(f"| {n} | {llama:.1f} | {slm:.1f} | {slm / max(llama, 1e-9):.2f} | {spread} "
          f"| {median('llama', n, 'ttft_p50_ms'):.1f} | {median('slm', n, 'ttft_p50_ms'):.1f} "
          f"| {total('llama', n, 'requests')}/{total('slm', n, 'requests')} "
          f"| {total('llama', n, 'failed')}/{total('slm', n, 'failed')} "
          f"| {total('llama', n, 'short')}/{total('slm', n, 'short')} "
          f"| {prompt_tokens('llama', n)}/{prompt_tokens('slm', n)} |")
