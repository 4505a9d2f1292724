"""`dermcoder serve --workers N`: several server processes on one port, one store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from dermcoder import cli
from dermcoder.processes import stop_process
from tests.conftest import REPO
from tests.service.browser_support import free_port

NOTE = "Shave biopsy of a 0.6 cm pigmented papule on the left upper back. Hemostasis with AlCl3."


def test_default_workers_follow_the_usable_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert cli.default_serve_workers() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(64)), raising=False)
    assert cli.default_serve_workers() == cli.MAX_DEFAULT_WORKERS
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3}, raising=False)
    assert cli.default_serve_workers() == 1


def test_serve_options_pass_the_workers_to_uvicorn():
    options = cli.serve_options("127.0.0.1", 8123, 3)
    assert options["workers"] == 3 and options["factory"] is True
    assert options["app"] == "dermcoder.service.app:create_app" and options["port"] == 8123


def test_serve_refuses_zero_workers(cli):
    result = cli("serve", "--port", "1", "--workers", "0")
    assert result.returncode == 2 and b"Traceback" not in result.stderr


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts worker processes through /proc")
def test_serve_with_two_workers_answers_from_two_processes(tmp_path):
    """The real command, as `make run` starts it, with --workers 2: two uvicorn worker
    processes under one supervisor, both built, and suggestions stored in the one SQLite file."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMCODER_")}
    env.update({"DERMCODER_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "DERMCODER_DATA_DIR": str(tmp_path / "data")})
    log = tmp_path / "serve.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen([sys.executable, "-m", "dermcoder", "serve", "--port", str(port), "--workers", "2"],
                                  cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        # Both workers log "Application startup complete" once their engine is built.
        while log.read_text(errors="replace").count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "two workers did not start:\n" + log.read_text(errors="replace")[-2000:]
            time.sleep(0.3)
        assert _get(base + "/health") == 200
        audit_ids = {_post(base + "/v1/suggest", {"id": f"w{k}", "text": NOTE})["audit_id"] for k in range(6)}
        assert len(audit_ids) == 6
        text = log.read_text(errors="replace")
        workers = set(re.findall(r"Started server process \[(\d+)\]", text))
        assert len(workers) == 2, text[-2000:]
        children = (open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()
                    if os.path.exists(f"/proc/{server.pid}/task/{server.pid}/children") else None)  # fmt: skip
        if children is not None:
            assert workers <= set(children)
    finally:
        stop_process(server)
    import sqlite3

    with sqlite3.connect(tmp_path / "store.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        assert any(db.execute(f'select count(*) from "{t}"').fetchone()[0] >= 6 for t in tables)  # noqa: S608


def test_nodelay_protocol_sets_tcp_nodelay_on_a_socket_bound_like_uvicorn_workers():
    """uvicorn's --workers socket has proto 0, so asyncio leaves Nagle on; the protocol turns it off."""
    import asyncio
    import socket

    from dermcoder.service.serving import PROTOCOL, NoDelayHTTPProtocol, set_nodelay

    assert cli.serve_options("127.0.0.1", 1, 2)["http"] == PROTOCOL
    assert PROTOCOL.endswith(":" + NoDelayHTTPProtocol.__name__)

    async def accepted_options() -> list[tuple[int, bool, int]]:
        seen = []

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                before = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                seen.append((before, set_nodelay(transport), sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
                transport.close()

        listener = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket makes it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _reader, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.02)
        writer.close()
        server.close()
        return seen

    [(_before, changed, after)] = asyncio.run(accepted_options())  # _before is 0 with Python 3.11's asyncio
    assert changed and after == 1
