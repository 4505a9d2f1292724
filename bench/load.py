"""Load test: N concurrent clients POST /v1/suggest to a real uvicorn on loopback for D seconds.

    python bench/load.py [--clients 50] [--seconds 60] [--json]

Starts the service (`uvicorn --factory dermcoder.service.app:create_app`) on a free
127.0.0.1 port with a temporary SQLite store, waits for /health, then runs the clients
(asyncio + httpx) with corpus notes until the time is up; every request has a timeout and
the run stops by itself. Prints requests, errors, p50/p95/p99 latency and throughput, and
exits 1 if any request failed (a status other than 200, or no answer). Traffic goes to
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from dermcoder.processes import stop_process

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus" / "sample" / "notes.jsonl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(workdir: Path, startup_s: float = 120) -> tuple[subprocess.Popen, str]:
    """uvicorn in a subprocess with a fresh store under `workdir`; (process, base URL)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMCODER_")}
    env.update({"DERMCODER_DATA_DIR": str(workdir), "DERMCODER_DATABASE_URL": f"sqlite:///{workdir / 'load.db'}"})
    log = open(workdir / "service.log", "wb")  # noqa: SIM115 - closed with the process below
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "dermcoder.service.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_s
    while True:
        if process.poll() is not None:
            raise SystemExit(f"error: the service exited with {process.returncode}; see {workdir / 'service.log'}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"error: the service did not start within {startup_s:.0f} s")
        time.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


async def run_clients(base: str, notes: list[str], clients: int, seconds: float, timeout_s: float = 60) -> dict:
    """`clients` tasks, each posting notes back to back until `seconds` have passed."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=timeout_s, limits=limits) as http:

        async def client(k: int) -> None:
            i = k
            while time.monotonic() < stop_at:
                note = notes[i % len(notes)]
                i += clients
                started = time.perf_counter()
                try:
                    response = await http.post("/v1/suggest", json={"id": f"load-{k}-{i}", "text": note})
                    ok = response.status_code == 200 and "audit_id" in response.json()
                    reason = None if ok else f"HTTP {response.status_code}"
                except (httpx.HTTPError, ValueError) as exc:
                    reason = type(exc).__name__
                if reason is None:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[reason] = errors.get(reason, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - began
    done = len(latencies)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": done + sum(errors.values()),
        "ok": done,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "throughput_rps": round(done / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p95_ms": round(1000 * percentile(latencies, 95), 1),
        "p99_ms": round(1000 * percentile(latencies, 99), 1),
        "max_ms": round(1000 * max(latencies, default=0.0), 1),
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else 0.0,
    }


def load_test(clients: int = 50, seconds: float = 60) -> dict:
    """Start the service, run the clients, stop the service; the figures, plus rows stored."""
    import sqlite3

    notes = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="dermcoder-load-") as tmp:
        workdir = Path(tmp)
        process, base = start_service(workdir)
        try:
            result = asyncio.run(run_clients(base, notes, clients, seconds))
        finally:
            stop_process(process)
        with sqlite3.connect(workdir / "load.db") as db:
            result["stored_suggestions"] = db.execute("SELECT count(*) FROM suggestions").fetchone()[0]
            result["integrity_check"] = db.execute("PRAGMA integrity_check").fetchone()[0]
    result["cpus"] = os.cpu_count()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not (1 <= args.clients <= 500 and 1 <= args.seconds <= 600):
        raise SystemExit("error: --clients must be 1-500 and --seconds 1-600 (a bounded test)")
    result = load_test(args.clients, args.seconds)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['clients']} clients, {result['seconds']} s on {result['cpus']} CPU(s): {result['requests']} requests, "
              f"{result['errors']} errors {result['error_kinds'] or ''}")
        print(f"throughput {result['throughput_rps']} req/s; latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
              f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
        print(f"store: {result['stored_suggestions']} suggestions, integrity_check {result['integrity_check']}")
    sys.exit(1 if result["errors"] or result["stored_suggestions"] != result["ok"] else 0)


if __name__ == "__main__":
    main()
