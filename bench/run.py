"""`make bench`: single-process throughput and latency of the engine on the corpus notes.

Writes bench/results.json and prints a short table. (The batch/benchmark issue adds
multi-process scaling, the API, cold start, RSS and the medspaCy floor.)
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    t0 = time.perf_counter()
    from dermcoder.engine import get_engine

    engine = get_engine()
    cold = time.perf_counter() - t0
    notes = [json.loads(line)["text"] for line in (ROOT / "corpus" / "sample" / "notes.jsonl").read_text().splitlines() if line.strip()]
    engine.suggest(notes[0])  # warm-up
    latencies = []
    start = time.perf_counter()
    for text in notes:
        t = time.perf_counter()
        engine.suggest(text)
        latencies.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - start
    lat = sorted(latencies)
    results = {
        "notes": len(notes),
        "notes_per_second": round(len(notes) / total, 1),
        "latency_ms_p50": round(statistics.median(lat), 2),
        "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 2),
        "cold_start_s": round(cold, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:20s} {value}")


if __name__ == "__main__":
    main()
