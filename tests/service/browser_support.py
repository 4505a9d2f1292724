"""Helpers for the coder's-page browser test and its screenshot: Debian's Chromium driven by
Playwright, and the real service started with uvicorn on a free local port.

Plain functions and context managers (no fixtures) so that the test module and
`python -m tests.service.page_screenshot` share them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dermcoder.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "tests" / "setup" / "install_chromium.sh"
CORPUS = REPO / "corpus" / "sample" / "notes.jsonl"
CHROMIUM = Path(os.environ.get("DERMCODER_CHROMIUM", "/usr/bin/chromium"))

# Without the background-networking flags Chromium keeps trying to reach Google's
# services, which misbehaves on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}


class BrowserUnavailable(RuntimeError):
    """Chromium is missing and could not be installed; the message says what to do."""


def ensure_chromium(timeout_s: float = 900) -> Path:
    """Return the Chromium executable, installing Debian's package first when it is missing."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    try:
        run = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrowserUnavailable(f"installing Chromium failed: {exc}") from None
    if run.returncode != 0 or not CHROMIUM.is_file():
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
        raise BrowserUnavailable(
            f"Chromium is not at {CHROMIUM} and {INSTALL_SCRIPT.relative_to(REPO)} could not install it "
            f"(exit {run.returncode}).\n{tail}\n"
            "Install it (as root: apt-get install chromium), point DERMCODER_CHROMIUM at a Chromium, "
            "or set DERMCODER_SKIP_BROWSER=1 to skip the browser test."
        )
    return CHROMIUM


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveService:
    """A running service: its base URL, its feedback database and its log file."""

    base_url: str
    database: Path
    log: Path
    process: subprocess.Popen

    def get_json(self, path: str) -> tuple[int, object]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def post_json(self, path: str, body: dict) -> tuple[int, object]:
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@contextmanager
def live_service(workdir: Path, extra_env: dict[str, str] | None = None, startup_s: float = 120) -> Iterator[LiveService]:
    """Run the real app (`dermcoder.service.app:create_app`) with uvicorn in a subprocess,
    on a free 127.0.0.1 port, with a fresh SQLite feedback store under `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "feedback.db"
    log = workdir / "service.log"
    port = free_port()
    # Only this run's settings: no DERMCODER_ variable leaks in from the caller's shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMCODER_")}
    env.update({
        "DERMCODER_DATABASE_URL": f"sqlite:///{database}",
        "DERMCODER_DATA_DIR": str(workdir / "data"),
        **(extra_env or {}),
    })
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "dermcoder.service.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
    ]  # fmt: skip
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    service = LiveService(f"http://127.0.0.1:{port}", database, log, process)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode} while starting:\n{_tail(log)}")
            try:
                if service.get_json("/health")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not answer /health within {startup_s:.0f} s:\n{_tail(log)}")
            time.sleep(0.2)
        yield service
    finally:
        stop_process(process, timeout=15)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def launch_chromium(playwright, executable: Path):
    """Debian's Chromium, headless, with the flags a closed network needs."""
    return playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)


def corpus_note(note_id: str) -> dict:
    """One corpus note; only train/dev notes may be shown (test notes stay unseen)."""
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            note = json.loads(line)
            if note["id"] == note_id:
                if note.get("split") not in ("train", "dev"):
                    raise ValueError(f"{note_id} is in the {note.get('split')} split; use a train or dev note")
                return note
    raise KeyError(f"{note_id} is not in {CORPUS.relative_to(REPO)}")


def merged_ranges(evidence: list[dict]) -> list[tuple[int, int]]:
    """Evidence spans as the page should mark them: sorted, overlapping or touching spans joined."""
    merged: list[list[int]] = []
    for span in sorted(evidence, key=lambda e: (e["start"], e["end"])):
        if merged and span["start"] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span["end"])
        else:
            merged.append([span["start"], span["end"]])
    return [(a, b) for a, b in merged]
