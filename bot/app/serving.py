"""uvicorn as `kneebot serve` runs it: httptools, with a deadline for each request's line and headers.

uvicorn times out an idle keep-alive connection but not a client that sends its request line and headers a byte at a
time: any number of such clients would each hold a connection for as long as they liked. The protocol here closes a
connection whose request head has not arrived within HEADER_TIMEOUT_S of the connection opening (or of the request's
first byte, for a later request on a kept-alive connection). The body has its own deadline in the app (server.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("kneebot.server")
HEADER_TIMEOUT_S = 10.0  # providers send a webhook's headers at once
KEEP_ALIVE_S = 5


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol closing a connection whose request head takes longer than `header_timeout_s`. The hooks
    are asyncio's (connection_made, connection_lost) and httptools' parser callbacks (on_message_begin,
    on_headers_complete)."""

    header_timeout_s = HEADER_TIMEOUT_S
    _head_deadline: asyncio.TimerHandle | None = None
    _transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None and self._transport is not None:
            self._arm(self._transport)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head_deadline = asyncio.get_running_loop().call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self._transport is not None and not self._transport.is_closing():
            log.info("client too slow sending the request headers; connection closed")
            self._transport.close()


def header_deadline(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol with another deadline (tests use a short one)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": seconds})


def uvicorn_config(app: Any, *, host: str, port: int, header_timeout_s: float = HEADER_TIMEOUT_S) -> uvicorn.Config:
    protocol = HeaderDeadlineProtocol if header_timeout_s == HEADER_TIMEOUT_S else header_deadline(header_timeout_s)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE_S,
        log_level="warning",
        access_log=False,
    )
