#!/usr/bin/env python3
"""Load test for `slm serve` (not run in CI): N concurrent streaming chat clients for a fixed time.

Reports total generated tokens/s, p50/p99 time to first token, failed requests, requests that ended
before --max-tokens (an end-of-text token: fewer tokens to make), mean prompt tokens and the
server's resident memory before and after; with --compare it measures 1 client, then --batched clients,
--rounds times alternately (a shared machine drifts), and prints each phase's median tokens/s and
the ratio of the medians. Standard library only. Any OpenAI-compatible server that sends usage in
its last stream event works (llama.cpp's llama-server too: bench/compare_server_llamacpp.sh); the
sampling options are sent only when given, so both servers of a comparison can get the same ones.

  slm serve MODEL --port 8080 --parallel 16 &
  bench/load_test.py --url http://127.0.0.1:8080 --pid $! --clients 16 --seconds 120
  bench/load_test.py --url http://127.0.0.1:8080 --pid $! --compare --batched 8 --seconds 20 --rounds 3
"""
import argparse
import http.client
import json
import random
import statistics
import threading
import time
import urllib.parse

PROMPTS = [
    "Explain what a Python generator is.",
    "How do I open a file for reading?",
    "What does the with statement do?",
    "Describe list comprehensions.",
    "What is the difference between a tuple and a list?",
    "How are exceptions raised and caught?",
    "What is a decorator?",
    "Explain the asyncio event loop.",
]


def rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def one_request(url, model, max_tokens, api_key, sampling):
    """Streams one chat completion; returns (ttft seconds, completion tokens, prompt tokens)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": random.choice(PROMPTS)}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        **sampling,
    }
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    start = time.monotonic()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:200]!r}")
    # The client shares the machine with the server: it reads the stream in large pieces and
    # parses only the events it needs (up to the first content, and the usage event), so that
    # its own CPU time, which grows with the number of clients, takes little from the server.
    ttft = None
    tokens = None
    prompt_tokens = None
    done = False
    pending = b""
    while not done:
        piece = resp.read1(65536)
        if not piece:
            break
        lines = (pending + piece).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if not line.startswith(b"data: "):
                continue
            data = line[6:].strip()
            if data == b"[DONE]":
                done = True
                break
            if ttft is not None and b'"completion_tokens"' not in data:
                continue
            event = json.loads(data)
            # slm sends usage in an event of its own (no choices), llama-server in the one that
            # carries finish_reason: both are read here.
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
                prompt_tokens = event["usage"].get("prompt_tokens")
            for choice in event.get("choices", []):
                if choice.get("delta", {}).get("content") and ttft is None:
                    ttft = time.monotonic() - start
    conn.close()
    if not done or tokens is None:
        raise RuntimeError("stream ended without [DONE] and usage")
    return (ttft if ttft is not None else time.monotonic() - start), tokens, prompt_tokens


def run_phase(url, model, clients, seconds, max_tokens, api_key, sampling):
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    ttfts, failures, tokens, short, prompts = [], [], [0], [0], []

    def client():
        while time.monotonic() < deadline:
            try:
                ttft, n, prompt = one_request(url, model, max_tokens, api_key, sampling)
                with lock:
                    ttfts.append(ttft)
                    tokens[0] += n
                    short[0] += n < max_tokens
                    if prompt is not None:
                        prompts.append(prompt)
            except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    failures.append(str(e))

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    ttfts.sort()
    pick = lambda q: ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))] if ttfts else float("nan")
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(ttfts),
        "failed": len(failures),
        "failures": failures[:5],
        "short": short[0],
        "prompt_tokens_mean": round(statistics.mean(prompts), 1) if prompts else None,
        "generated_tokens": tokens[0],
        "tokens_per_s": round(tokens[0] / elapsed, 1),
        "ttft_p50_ms": round(pick(0.50) * 1000, 1),
        "ttft_p99_ms": round(pick(0.99) * 1000, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", default=None, help="model id (default: the first of /v1/models)")
    ap.add_argument("--pid", type=int, default=0, help="server process id, for RSS")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=None, help="sent only when given")
    ap.add_argument("--top-p", type=float, default=None, help="sent only when given")
    ap.add_argument("--min-p", type=float, default=None, help="sent only when given")
    ap.add_argument("--compare", action="store_true", help="1 client, then --batched clients")
    ap.add_argument("--batched", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1, help="with --compare: alternate the two phases this many times")
    args = ap.parse_args()
    sampling = {"temperature": args.temperature}
    for name in ("top_k", "top_p", "min_p"):
        if getattr(args, name) is not None:
            sampling[name] = getattr(args, name)
    model = args.model
    if model is None:
        u = urllib.parse.urlparse(args.url)
        conn = http.client.HTTPConnection(u.hostname, u.port)
        conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {args.api_key}"} if args.api_key else {})
        model = json.loads(conn.getresponse().read())["data"][0]["id"]
    report = {"model": model, "rss_before_kib": rss_kib(args.pid)}
    if args.compare:
        singles, batches = [], []
        for _ in range(max(1, args.rounds)):
            common = (args.seconds, args.max_tokens, args.api_key, sampling)
            singles.append(run_phase(args.url, model, 1, *common))
            batches.append(run_phase(args.url, model, args.batched, *common))
        median = lambda runs: statistics.median(r["tokens_per_s"] for r in runs)
        # each round's two phases ran back to back: their ratio cancels slow drift of a shared
        # machine better than the ratio of the two medians
        ratios = [b["tokens_per_s"] / max(s["tokens_per_s"], 1e-9) for s, b in zip(singles, batches)]
        report.update(single=singles, batched=batches, single_median_tokens_per_s=median(singles),
                      batched_median_tokens_per_s=median(batches),
                      failed=sum(r["failed"] for r in singles + batches),
                      batched_over_single=round(median(batches) / max(median(singles), 1e-9), 2),
                      round_ratios=[round(r, 2) for r in ratios],
                      median_round_ratio=round(statistics.median(ratios), 2))
    else:
        report["load"] = run_phase(args.url, model, args.clients, args.seconds, args.max_tokens, args.api_key, sampling)
    report["rss_after_kib"] = rss_kib(args.pid)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
