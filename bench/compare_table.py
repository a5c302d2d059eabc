#!/usr/bin/env python3
"""The side-by-side table of bench/compare_llamacpp.sh and bench/compare_llamacpp_cuda.sh.

  compare_table.py rows LABEL TOOL JSON     one timed run's JSON Lines for RESULTS (JSON: the array
                                            llama-bench -o json and slm bench --json print)
  compare_table.py RESULTS BANDWIDTHS SETTING PP TG

RESULTS: JSON Lines, one per timed run ({"label", "tool": "llama"|"slm", "n_prompt", "n_gen",
"avg_ts", "bytes_per_token"}); BANDWIDTHS: one measured read bandwidth (bytes/s) per line, of which
the median is the yardstick; SETTING: what the first line says the runs shared (threads, device).
Prints per label the median pp and tg of each tool, their ratio slm / llama.cpp, and slm's tg as a
share of the bandwidth (weight bytes per token x tokens/s).
"""
import json
import statistics
import sys

if sys.argv[1] == "rows":
    label, tool, runs = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    for r in runs:
        print(json.dumps({"label": label, "tool": tool, "n_prompt": r["n_prompt"], "n_gen": r["n_gen"],
                          "avg_ts": r["avg_ts"], "bytes_per_token": r.get("weight_bytes_per_token")}))
    sys.exit(0)

path, bandwidth_path, setting, pp, tg = sys.argv[1:6]
measured = [float(line) for line in open(bandwidth_path) if line.strip()]
bandwidth = statistics.median(measured)
rows = [json.loads(line) for line in open(path)]
labels = list(dict.fromkeys(r["label"] for r in rows))


def ts(label, tool, test):
    v = [r["avg_ts"] for r in rows if r["label"] == label and r["tool"] == tool and
         ((r["n_prompt"] > 0) if test == "pp" else (r["n_gen"] > 0))]
    return statistics.median(v) if v else float("nan")


print(f"{setting}; read bandwidth {bandwidth / 1e9:.1f} GB/s (median of {len(measured)}: "
      f"{min(measured) / 1e9:.1f}-{max(measured) / 1e9:.1f})")
print(f"| model | llama.cpp pp{pp} | slm pp{pp} | ratio | llama.cpp tg{tg} | slm tg{tg} | ratio | slm tg % of bandwidth |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for label in labels:
    bpt = next((r["bytes_per_token"] for r in rows if r["label"] == label and r["bytes_per_token"]), None)
    lp, sp, lt, st = ts(label, "llama", "pp"), ts(label, "slm", "pp"), ts(label, "llama", "tg"), ts(label, "slm", "tg")
    share = f"{100 * bpt * st / bandwidth:.0f}%" if bpt else "?"
    print(f"| {label} | {lp:.1f} | {sp:.1f} | {sp / lp:.2f} | {lt:.1f} | {st:.1f} | {st / lt:.2f} | {share} |")
