"""How `dermcoder serve` runs uvicorn: its HTTP protocol with TCP_NODELAY on every connection.

With `--workers N` uvicorn binds the listening socket itself as `socket.socket(family)`,
whose protocol number is 0, and asyncio then skips its usual TCP_NODELAY on accepted
connections (it checks `sock.proto == IPPROTO_TCP`). On a keep-alive connection the
answer's headers and body then leave as two small writes, the second held back by Nagle's
algorithm until the client's delayed ACK: ~40 ms added to every request after the first
(measured: 60 ms instead of 20 ms per note at 1 client). One worker is not affected
(asyncio binds that socket with IPPROTO_TCP), and setting the option again is harmless.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol

PROTOCOL = "dermcoder.service.serving:NoDelayHTTPProtocol"


def set_nodelay(transport: asyncio.BaseTransport) -> bool:
    """Turn Nagle's algorithm off on a TCP transport's socket; False when it is not TCP."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # a socket closed under us: nothing to tune
        return False
    return True


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's own HTTP protocol (httptools, a dependency, or h11 where it is missing: uvicorn
    picks), with TCP_NODELAY set."""

    def connection_made(self, transport) -> None:  # untyped like the base class
        set_nodelay(transport)
        super().connection_made(transport)
