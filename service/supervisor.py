"""`dermcoder serve --workers N` on Linux: N uvicorn processes, each with its own SO_REUSEPORT socket.

uvicorn's own multi-worker mode binds one listening socket and hands it to every worker.
Whichever worker's event loop wakes first then accepts every pending connection at once
(asyncio accepts up to the backlog in one go), so keep-alive clients that connect together
land unevenly: in one 20-client run one worker used 5.05 s of CPU and the other 1.47 s,
and the busy one's queue set the latency. Here each worker listens on a socket of its own
in one SO_REUSEPORT group, and the kernel assigns each new connection to a socket by a hash
of its addresses, whatever the workers are doing.

What is kept of uvicorn's supervisor: SIGINT / SIGTERM stop every worker gracefully (each
finishes its requests, as uvicorn's SIGTERM handling does), and the workers die with the
supervisor (PR_SET_PDEATHSIG), even if it is killed outright. Not kept: restarting a worker
that died (the kernel routes new connections to the remaining sockets; the supervisor logs
it and exits once no worker is left).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from types import FrameType

import uvicorn

log = logging.getLogger("uvicorn.error")

# prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# How long the supervisor lets a worker finish its requests after SIGTERM before SIGKILL.
GRACEFUL_TIMEOUT_S = 30.0


def reuseport_supported() -> bool:
    """True where the kernel balances connections over a SO_REUSEPORT group (Linux >= 3.9)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuseport_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket in the SO_REUSEPORT group of (host, port).

    Made with IPPROTO_TCP (unlike uvicorn's `socket.socket(family)`), so asyncio sets
    TCP_NODELAY on its connections itself. Raises OSError when the address is taken by a
    socket outside the group.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGTERM when the supervisor dies (then uvicorn shuts down cleanly)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the supervisor's own SIGTERM still stops us
        return
    if os.getppid() != parent_pid:  # the supervisor died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(config: uvicorn.Config, sock: socket.socket, parent_pid: int) -> None:
    """A worker process: uvicorn's server on its own socket, as uvicorn's workers run it."""
    _die_with_parent(parent_pid)
    config.configure_logging()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the supervisor reports
        pass


def _start_workers(config: uvicorn.Config, workers: int) -> tuple[list[SpawnProcess], int]:
    """Bind one socket per worker (the first fixes the port when 0 is asked) and start the
    workers; (the processes, the port).

    Each socket is closed here once its worker holds it: the supervisor keeps none, so a
    worker's death takes its socket out of the group instead of leaving a listener that
    nobody accepts on.
    """
    spawn = multiprocessing.get_context("spawn")  # as uvicorn: no fork of a process with threads
    port = config.port
    processes: list[SpawnProcess] = []
    try:
        for _ in range(workers):
            sock = reuseport_socket(config.host, port, config.backlog)
            port = sock.getsockname()[1]
            process = spawn.Process(target=_worker, args=(config, sock, os.getpid()), name="dermcoder-worker")
            try:
                process.start()  # the socket's descriptor is passed to the child at its exec
            finally:
                sock.close()
            processes.append(process)
    except BaseException:
        _stop(processes, GRACEFUL_TIMEOUT_S)  # no half-started server left behind
        raise
    return processes, port


def _stop(processes: list[SpawnProcess], timeout: float) -> None:
    """SIGTERM to every live worker, then SIGKILL to whichever has not exited within `timeout`."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("Worker process [%s] did not stop in %.0f s; killing it", process.pid, timeout)
            process.kill()
            process.join()


def supervise(config: uvicorn.Config, workers: int, graceful_timeout: float = GRACEFUL_TIMEOUT_S) -> int:
    """Run `workers` uvicorn processes on config's host and port until SIGINT / SIGTERM; the exit code.

    0 after a requested stop, 1 when every worker has died on its own, 3 (uvicorn's startup
    failure code) when the address cannot be bound.
    """
    config.configure_logging()
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            processes, port = _start_workers(config, workers)
        except OSError as exc:
            log.error("%s", exc)
            return 3
        shown_host = f"[{config.host}]" if ":" in config.host else config.host
        log.info("Started supervisor process [%s]: %d workers on http://%s:%d, one SO_REUSEPORT socket each "
                 "(Press CTRL+C to quit)", os.getpid(), workers, shown_host, port)  # fmt: skip
        alive = list(processes)
        while alive and not stop_requested:
            ended = wait([p.sentinel for p in alive], timeout=0.5)
            for process in [p for p in alive if p.sentinel in ended]:
                process.join()
                log.error("Worker process [%s] exited with code %s; %d worker(s) left", process.pid, process.exitcode,
                          len(alive) - 1)  # fmt: skip
                alive.remove(process)
        if stop_requested:
            log.info("Stopping %d worker(s)", len(alive))
        _stop(processes, graceful_timeout)
        log.info("Stopped supervisor process [%s]", os.getpid())
        return 0 if stop_requested else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
