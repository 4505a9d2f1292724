"""Stopping a child process (a served API in tests and benchmarks) without leaving it behind."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Ask the process to stop (SIGTERM, so uvicorn shuts down cleanly); kill it if it has not
    exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
