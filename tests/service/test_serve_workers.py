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


def test_serve_parses_http_with_httptools():
    # a dependency: uvicorn's pure-Python h11 parser cost ~1 ms of server CPU per request
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from dermcoder.service.serving import NoDelayHTTPProtocol

    assert issubclass(NoDelayHTTPProtocol, HttpToolsProtocol)


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


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(x) for x in f.read().split()}
    except OSError:
        return set()


def _socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets a process holds (from its /proc fd links)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def _tcp_sockets(port: int, state: str) -> set[int]:
    """The inodes of the IPv4 TCP sockets whose local port is `port`, in `state` (hex as the
    kernel writes it: 0A listening, 01 established)."""
    found = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, st, inode = fields[1], fields[3], int(fields[9])
            if st == state and int(local.split(":")[1], 16) == port:
                found.add(inode)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_two_workers(tmp_path, port: int) -> tuple[subprocess.Popen, object]:
    """`dermcoder serve --workers 2` as `make run` starts it, returned once both workers are built."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMCODER_")}
    env.update({"DERMCODER_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "DERMCODER_DATA_DIR": str(tmp_path / "data")})
    log = tmp_path / "serve.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen([sys.executable, "-m", "dermcoder", "serve", "--port", str(port), "--workers", "2"],
                                  cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 180
    # Both workers log "Application startup complete" once their engine is built.
    while log.read_text(errors="replace").count("Application startup complete") < 2:
        if server.poll() is not None or time.monotonic() > deadline:
            stop_process(server)
            raise AssertionError("two workers did not start:\n" + log.read_text(errors="replace")[-2000:])
        time.sleep(0.3)
    return server, log


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads worker processes and sockets through /proc")
def test_serve_with_two_workers_answers_from_two_processes_and_stops_on_sigterm(tmp_path):
    """The real command with --workers 2: two uvicorn worker processes under one supervisor,
    each listening on its own SO_REUSEPORT socket, both answering (the kernel spreads new
    connections over the two sockets), suggestions stored in the one SQLite file, and SIGTERM
    to the supervisor stopping every process."""
    import http.client

    port = free_port()
    server, log = _start_two_workers(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _get(base + "/health") == 200
        audit_ids = {_post(base + "/v1/suggest", {"id": f"w{k}", "text": NOTE})["audit_id"] for k in range(6)}
        assert len(audit_ids) == 6
        text = log.read_text(errors="replace")
        workers = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", text)}
        assert len(workers) == 2, text[-2000:]
        assert workers <= _children(server.pid)
        # One listening socket per worker, none in the supervisor.
        listeners = _tcp_sockets(port, "0A")
        assert len(listeners) == 2
        assert all(len(_socket_inodes(pid) & listeners) == 1 for pid in workers)
        assert not _socket_inodes(server.pid) & listeners
        # Fresh connections, each answered and held open, so that the worker holding the
        # server end of each can be read; 40 land on one socket with probability 2 ** -39.
        connections = []
        for k in range(40):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/health")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            connections.append(conn)
        server_ends = _tcp_sockets(port, "01")
        answered_by = {pid for pid in workers if _socket_inodes(pid) & server_ends}
        for conn in connections:
            conn.close()
        assert answered_by == workers
    finally:
        server.terminate()  # SIGTERM, as a service manager stops it
        try:
            code = server.wait(timeout=60)
        finally:
            stop_process(server)
    assert code == 0, log.read_text(errors="replace")[-2000:]
    assert not any(_alive(pid) for pid in workers)
    assert "Finished server process" in log.read_text(errors="replace")  # graceful: uvicorn's own shutdown
    import sqlite3

    with sqlite3.connect(tmp_path / "store.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        assert any(db.execute(f'select count(*) from "{t}"').fetchone()[0] >= 6 for t in tables)  # noqa: S608


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux")
def test_workers_die_with_a_killed_supervisor(tmp_path):
    """SIGKILL gives the supervisor no chance to stop its workers: the kernel's parent-death
    signal must, or they would keep the port and answer with no supervisor."""
    import signal

    port = free_port()
    server, log = _start_two_workers(tmp_path, port)
    workers = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", log.read_text(errors="replace"))}
    try:
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers)
    finally:
        stop_process(server)
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing is Linux")
def test_reuseport_sockets_share_a_port_that_others_cannot_take():
    import socket

    from dermcoder.service.supervisor import reuseport_socket, reuseport_supported

    assert reuseport_supported()
    first = reuseport_socket("127.0.0.1", 0, 16)
    port = first.getsockname()[1]
    second = reuseport_socket("127.0.0.1", port, 16)
    try:
        assert second.getsockname()[1] == port
        assert first.proto == socket.IPPROTO_TCP  # so asyncio sets TCP_NODELAY on its connections
        outsider = socket.socket()
        try:
            with pytest.raises(OSError):
                outsider.bind(("127.0.0.1", port))
        finally:
            outsider.close()
    finally:
        first.close()
        second.close()


def test_supervise_reports_an_address_in_use_as_a_startup_failure():
    import socket

    import uvicorn

    from dermcoder.service.supervisor import supervise

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        config = uvicorn.Config(**{**cli.serve_options("127.0.0.1", taken.getsockname()[1], 1), "workers": 1})
        assert supervise(config, 2) == 3
    finally:
        taken.close()


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
