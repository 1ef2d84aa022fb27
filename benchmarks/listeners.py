"""Listener throughput and latency, as ratios against a raw aiohttp baseline, in one run.

    python benchmarks/listeners.py [--rounds 3] [--duration 5] [--connections 64]

Needs `wrk` (Debian/Ubuntu: `apt-get install wrk`). Measures:
  (a) a minimal aiohttp handler doing the same JSON parse/serialize,
  (b) a Wharf sync JSON process (parse -> map -> respond) with summary records,
  (c) a Wharf async durable-accept listener (fsync'd group commits before each 202),
  (d) the Salesforce sample's SOAP path: parse, validate, check, store durably, Ack,
  (e), (f) = (b), (c) behind an API key and a rate limit too high to trigger (the cost of
      inbound security: target within 10% of (b), (c)),
then an overload phase: ~10x the sustainable rate of a slow async process for 30 s,
sampling the server's RSS and counting 503s and socket timeouts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADMIN_KEY = "wharf-benchmark-admin-key"  # the servers' admin credential (drain polls the API)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(command: list[str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WHARF_ADMIN_KEY": ADMIN_KEY}
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_port(port)
    return proc


def wharf(port: int, store: Path, *extra: str, directory: Path = HERE / "processes") -> list[str]:
    return [
        sys.executable, "-m", "runtime.cli.main", "run", str(directory),
        "--port", str(port), "--store", f"sqlite:///{store}", "--log-level", "WARNING", *extra,
    ]  # fmt: skip


def parse_latency(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str,
    duration: int,
    connections: int,
    timeout: str = "5s",
    script: str = "post.lua",
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}",
        "--latency", "-s", str(HERE / script), url,
    ]  # fmt: skip
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    total = re.search(r"(\d+) requests in", text)
    requests = float(total.group(1)) if total else 0.0
    failed = float(non2xx.group(1)) if non2xx else 0.0
    return {
        # Only 2xx answers count: a 503 is cheap and would flatter the server.
        "rps": rps * (1 - failed / requests) if requests else 0.0,
        "offered": rps,
        "p50": parse_latency(text, "50"),
        "p99": parse_latency(text, "99"),
        "requests": requests,
        "non2xx": failed,
        "timeouts": float(errors.group(4)) if errors else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups()[:3])) if errors else 0.0,
    }


def drain(base: str, timeout: float = 120.0) -> None:
    """Wait until a server's accepted work is done, so it cannot steal the next case's CPU."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = 0
        for status in ("queued", "running"):
            url = f"{base}/api/executions?status={status}&limit=1"
            request = urllib.request.Request(url, headers={"X-API-Key": ADMIN_KEY})
            with urllib.request.urlopen(request, timeout=10) as response:
                busy += len(json.load(response)["items"])
        if not busy:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{base} did not drain in {timeout:.0f}s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


CASES = {
    "a": "raw aiohttp JSON handler",
    "b": "Wharf sync JSON process",
    "c": "Wharf async durable accept",
    "d": "Salesforce sample: SOAP Ack",
    "e": "(b) + API key + rate limit",
    "f": "(c) + API key + rate limit",
}
SCRIPTS = {"d": "salesforce.lua"}


def measure(args: argparse.Namespace, workdir: Path) -> None:
    """Rounds of a, b, c in turn; medians, so drifting machine load hits all three alike."""
    raw_port, wharf_port, samples_port = free_port(), free_port(), free_port()
    # Throughput cases measure accepting, not shedding: no 503s from the outstanding bound.
    os.environ["WHARF_MAX_OUTSTANDING"] = "1000000"
    raw = start([sys.executable, str(HERE / "raw_server.py"), str(raw_port)], raw_port, workdir)
    made = subprocess.run(
        [sys.executable, "-m", "runtime.cli.main", "keys", "create", "bench", "--store",
         f"sqlite:///{workdir / 'bench.db'}"],
        cwd=workdir, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    secured = {"X-API-Key": made.stdout.split()[-1]}
    server = start(wharf(wharf_port, workdir / "bench.db"), wharf_port, workdir)
    # The Salesforce sample as shipped; its workers write to a SQLite file in workdir.
    samples = start(
        wharf(samples_port, workdir / "samples.db", directory=ROOT / "sample_processes"),
        samples_port,
        workdir,
    )
    urls = {
        "a": f"http://127.0.0.1:{raw_port}/orders",
        "b": f"http://127.0.0.1:{wharf_port}/sync/orders",
        "c": f"http://127.0.0.1:{wharf_port}/async/orders",
        "d": f"http://127.0.0.1:{samples_port}/salesforce/accounts",
        "e": f"http://127.0.0.1:{wharf_port}/secure/sync/orders",
        "f": f"http://127.0.0.1:{wharf_port}/secure/async/orders",
    }
    headers = {"e": secured, "f": secured}
    rounds: dict[str, list[dict[str, float]]] = {key: [] for key in CASES}
    try:
        # Async cases leave work behind for the workers; each waits for it to finish, so
        # it cannot slow down the case measured next.
        bases = {
            "c": f"http://127.0.0.1:{wharf_port}",
            "d": f"http://127.0.0.1:{samples_port}",
            "f": f"http://127.0.0.1:{wharf_port}",
        }
        for key, url in urls.items():
            script = SCRIPTS.get(key, "post.lua")
            run_wrk(url, 2, args.connections, script=script, headers=headers.get(key))  # warm-up
            if key in bases:
                drain(bases[key])
        for _ in range(args.rounds):
            for key, url in urls.items():
                script = SCRIPTS.get(key, "post.lua")
                rounds[key].append(
                    run_wrk(
                        url,
                        args.duration,
                        args.connections,
                        script=script,
                        headers=headers.get(key),
                    )
                )
                if key in bases:
                    drain(bases[key])
    finally:
        del os.environ["WHARF_MAX_OUTSTANDING"]
        for proc in (raw, server, samples):
            proc.terminate()
            proc.wait()

    def median(key: str, field: str) -> float:
        return statistics.median(r[field] for r in rounds[key])

    def ratio(key: str, base: str = "a") -> float:
        """Median of per-round ratios: a case and its base measured seconds apart share
        the machine's mood, which a ratio of whole-run medians would not."""
        return statistics.median(
            r["rps"] / a["rps"] for r, a in zip(rounds[key], rounds[base], strict=True)
        )

    print(
        f"\n{args.rounds} rounds x {args.duration}s per case, wrk -t1 -c{args.connections}; "
        "medians (min-max req/s); ratio = median of per-round ratios to (a)"
    )
    print(f"{'case':34} {'req/s':>9} {'range':>13} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
    for key, name in CASES.items():
        values = [r["rps"] for r in rounds[key]]
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(
            f"({key}) {name:30} {median(key, 'rps'):9.0f} {spread:>13} "
            f"{median(key, 'p50'):8.2f} {median(key, 'p99'):8.2f} {ratio(key):6.2f}"
        )
    for key in CASES:
        errors = sum(r["non2xx"] + r["socket_errors"] + r["timeouts"] for r in rounds[key])
        if errors:
            print(f"({key}) had {errors:.0f} non-2xx answers or socket errors")
    print("targets: (b) >= 0.50, (c) >= 0.35 of (a)")
    print(
        f"security cost: (e)/(b) = {ratio('e', 'b'):.3f}, (f)/(c) = {ratio('f', 'c'):.3f} "
        "(target >= 0.90)"
    )
    overload(args, workdir)


def overload(args: argparse.Namespace, workdir: Path) -> None:
    """~10x the sustainable rate of a slow async process; RSS must stay bounded."""
    port = free_port()
    store = workdir / "overload.db"
    # 8 workers x 20/s (50 ms each) = 160/s sustainable; the accept path takes far more.
    os.environ.update({"WHARF_WORKERS": "8", "WHARF_MAX_OUTSTANDING": str(args.max_outstanding)})
    server = start(wharf(port, store), port, workdir)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mb(server.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        r = run_wrk(f"http://127.0.0.1:{port}/slow/orders", args.overload_seconds, 256, "10s")
    finally:
        stop.set()
        sampler.join()
        server.terminate()
        server.wait()
    accepted = r["requests"] - r["non2xx"]
    sustainable = 160.0
    print(
        f"\noverload {args.overload_seconds}s: offered {r['offered']:.0f} req/s "
        f"(~{r['offered'] / sustainable:.0f}x the sustainable {sustainable:.0f}/s), "
        f"{accepted:.0f} accepted, {r['non2xx']:.0f} answered 503, "
        f"{r['timeouts']:.0f} timeouts, {r['socket_errors']:.0f} socket errors, "
        f"p99 {r['p99']:.1f} ms, peak RSS {peak:.0f} MB (limit 300 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per case per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--overload-seconds", type=int, default=30)
    parser.add_argument("--max-outstanding", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="wharf-bench-") as workdir:
        measure(args, Path(workdir))


if __name__ == "__main__":
    main()
