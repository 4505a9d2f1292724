"""The load test (bench/load.py) as a --slow test: 50 clients for 60 s, nothing lost."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("dermcoder_bench_load", LOAD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_percentile():
    load = _load_module()
    assert load.percentile([], 95) == 0.0
    values = [float(v) for v in range(1, 101)]
    assert load.percentile(values, 50) == 50.0 and load.percentile(values, 95) == 95.0 and load.percentile(values, 100) == 100.0


@pytest.mark.slow
def test_load_50_clients_60_seconds_no_errors():
    result = _load_module().load_test(clients=50, seconds=60)
    print(f"\nload: {result}")
    assert result["errors"] == 0, result["error_kinds"]
    assert result["ok"] > 50  # every client got answers, not one lucky request
    assert result["stored_suggestions"] == result["ok"]  # every answered suggestion was stored
    assert result["integrity_check"] == "ok"
