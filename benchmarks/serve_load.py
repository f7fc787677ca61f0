"""Load benchmark of `vaelab serve`: N concurrent clients POST /api/decode over loopback for a fixed time.

    python benchmarks/serve_load.py RUN [--clients 8] [--duration 60] [--max-requests 2000000] [--out docs/serving.md]

The server runs as its own process (`python -m vaelab serve RUN --port 0`, bound to 127.0.0.1) and is always
stopped at the end. Each client is a thread with one keep-alive http.client connection sending one random
latent vector per request (seeded). Bounded by --duration and --max-requests. Reports requests/s, p50 / p99 /
max latency, the error count (non-200 answers and connection errors), and the server's own model time;
with --out, replaces the block between the serve_load markers of that markdown file.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command_line, machine  # noqa: E402

BEGIN, END = "<!-- serve_load:begin -->", "<!-- serve_load:end -->"


def start_server(run: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    """`vaelab serve RUN --port 0` as a child process; returns it and its base URL once it listens."""
    cmd = [sys.executable, "-m", "vaelab", "serve", run, "--port", "0", "--quiet", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        print("server:", line.rstrip())
        m = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # drain the pipe
            return proc, m.group(1)
    stop_server(proc)
    raise SystemExit("the server did not start")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_json(url: str, path: str) -> dict:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    doc = json.loads(conn.getresponse().read())
    conn.close()
    return doc


def client(url: str, latent_dim: int, seed: int, stop_at: float, budget: list[int], lock: threading.Lock,
           latencies: list[float], errors: list[str]) -> None:
    """Send decode requests until ``stop_at`` or the shared request budget is spent."""
    host, port = url.removeprefix("http://").split(":")
    rng = np.random.default_rng(seed)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        body = json.dumps({"z": rng.normal(size=(1, latent_dim)).round(4).tolist()})
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/decode", body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            ms = 1000 * (time.perf_counter() - t0)
            if r.status != 200 or not json.loads(data).get("images"):
                errors.append(f"HTTP {r.status}")
            else:
                latencies.append(ms)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.close()


def write_block(path: Path, lines: list[str]) -> None:
    """Replace the text between the serve_load markers of ``path`` (appending them if absent)."""
    block = "\n".join([BEGIN, *lines, END])
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
    print(f"wrote {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run directory")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    ap.add_argument("--max-requests", type=int, default=2_000_000, help="stop after this many requests in all")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of requests not counted (default 2)")
    ap.add_argument("--single", type=int, default=1000, help="requests of one client alone first (default 1000)")
    ap.add_argument("--out", type=Path, help="markdown file whose serve_load block gets the results")
    args = ap.parse_args()

    load_before = os.getloadavg()
    proc, url = start_server(args.run, [])
    try:
        info = get_json(url, "/api/info")
        d = info["latent_dim"]
        # warm-up (not counted): the first requests pay for lazy imports and allocator growth
        client(url, d, 999, time.monotonic() + args.warmup, [10_000], threading.Lock(), [], [])
        # one client alone: the round trip a page sees on an idle server
        single: list[float] = []
        single_errors: list[str] = []
        client(url, d, 998, time.monotonic() + 30, [args.single], threading.Lock(), single, single_errors)
        latencies: list[float] = []
        errors: list[str] = []
        budget, lock = [args.max_requests], threading.Lock()
        t0 = time.monotonic()
        stop_at = t0 + args.duration
        threads = [threading.Thread(target=client, args=(url, d, i, stop_at, budget, lock, latencies, errors))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 30)
        elapsed = time.monotonic() - t0
        stats = get_json(url, "/api/stats")["timings"].get("decode", {})
    finally:
        stop_server(proc)
    load_after = os.getloadavg()

    lat = np.asarray(latencies)
    n = lat.size + len(errors)
    rps = n / elapsed
    p50, p99, pmax = (float(np.percentile(lat, q)) for q in (50, 99, 100)) if lat.size else (float("nan"),) * 3
    s50, s99 = (float(np.percentile(single, q)) for q in (50, 99)) if single else (float("nan"),) * 2
    print(f"one client alone: {len(single)} requests, round trip p50 {s50:.2f} ms, p99 {s99:.2f} ms, "
          f"{len(single_errors)} errors")
    print(f"{n} requests in {elapsed:.1f} s with {args.clients} clients: {rps:.0f} requests/s, "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {pmax:.1f} ms, {len(errors)} errors")
    if args.out:
        c, h, w = info["image_shape"]
        lines = [
            f"- date: {date.today().isoformat()}",
            f"- machine: {machine()}; load average before/after the run {load_before[0]:.2f} / {load_after[0]:.2f} "
            "(other work on the machine shares its cores)",
            f"- command: `{command_line()}`",
            f"- model: run `{info['run']}` ({info['dataset']}, {info['model_config']['arch'].upper()} "
            f"{'-'.join(str(v) for v in info['model_config']['hidden'])}, latent dimension {d}, {h}x{w} images, "
            f"{info['likelihood']} likelihood)",
            f"- load: {args.clients} concurrent keep-alive clients (threads, http.client) on 127.0.0.1, each POSTing "
            f"`/api/decode` with one random z and waiting for the answer, for {elapsed:.1f} s after a "
            f"{args.warmup:g} s warm-up",
            "",
            "| requests | requests/s | p50 latency | p99 latency | max latency | errors "
            "| server decode time p50 / p99 |",
            "|---|---|---|---|---|---|---|",
            f"| {n} | {rps:.0f} | {p50:.2f} ms | {p99:.2f} ms | {pmax:.1f} ms | {len(errors)} | "
            f"{stats.get('p50_ms', float('nan')):.2f} / {stats.get('p99_ms', float('nan')):.2f} ms |",
            "",
            f"One client alone first ({len(single)} sequential requests, {len(single_errors)} errors): decode round "
            f"trip p50 {s50:.2f} ms, p99 {s99:.2f} ms. With 8 clients the latency is mostly queueing: the server's "
            "own decode time is the last column, and the 8 client threads share the 2 cores with the server.",
        ]
        write_block(args.out if args.out.is_absolute() else REPO / args.out, lines)
    return 1 if errors or single_errors else 0


if __name__ == "__main__":
    sys.exit(main())
