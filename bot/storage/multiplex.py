"""One Redis connection for every request in the process: commands written as they come, replies matched by order.

Redis answers the commands of one connection in the order it received them, so a process can keep any number of
requests in flight on a single connection: each command is written at once, and the reply at the head of the stream
belongs to the oldest command still waiting. A pooled client instead checks a connection out and back for every
command, runs each write under a timeout task and reads each reply with a system call of its own. On the webhooks'
hot path (a load and a commit per message) that bookkeeping was a quarter of the web process's CPU per SMS
(bench/README.md); here one read takes every reply that has arrived.

The connection is made by redis-py (so every URL form it accepts, TLS, AUTH and SELECT work as for the rest of the
app), then its transport is handed to this protocol. Only commands that are safe to send twice may go through it: a
command whose connection is lost before its reply came is sent once more on a new connection, as the pooled client's
single retry does. The conversation store's MGET and commit script are (the commit recognises a message it already
stored). Without hiredis (its reader and packer are C), commands go through the pooled client instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, cast

import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

try:
    import hiredis
    from redis._parsers.base import BaseParser

    HIREDIS = True
except ImportError:  # pragma: no cover - hiredis is a dependency; without it, the pooled client serves
    HIREDIS = False

log = logging.getLogger("kneebot.storage")
SERVER_TIME_FOR_S = 600.0


class Multiplexed:
    """`execute(*args)` sends one command and returns its reply as redis-py's `execute_command` would with
    `decode_responses` off (bytes, ints, lists, None), raising redis-py's exceptions: an error reply as its
    ResponseError subclass (NoScriptError for NOSCRIPT), a lost or refused connection as ConnectionError, and no
    reply within the client's `socket_timeout` as TimeoutError (the connection is then dropped: a server that went
    quiet is not waited on by the commands behind it)."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client
        self._pool = client.connection_pool
        self.timeout_s: float | None = self._pool.connection_kwargs.get("socket_timeout")
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol | None] | None = None
        self._offset_ms: float | None = None  # the server's clock less this process's monotonic one
        self._offset_at = 0.0
        self.multiplexing = HIREDIS
        self.sent = 0  # commands sent through `execute` (a round trip each), for tests and benches

    async def execute(self, *args: Any) -> Any:
        self.sent += 1
        return await self._send(args)

    async def server_time_ms(self) -> float:
        """The server's clock now (ms since the epoch): this process's monotonic clock set by the server's TIME, as
        asked once a connection and every SERVER_TIME_FOR_S, so most calls make no round trip. Off by at most half
        the round trip it was asked in (and the clocks' drift since)."""
        if self._offset_ms is None or time.monotonic() - self._offset_at > SERVER_TIME_FOR_S:
            before = time.monotonic()
            seconds, micros = await self._send(("TIME",))
            after = time.monotonic()
            self._offset_ms = int(seconds) * 1000 + int(micros) / 1000 - (before + after) / 2 * 1000
            self._offset_at = after
        return self._offset_ms + time.monotonic() * 1000

    def forget_server_time(self) -> None:
        """Ask the server's clock again before the next estimate (the last one proved wrong)."""
        self._offset_ms = None

    async def _send(self, args: tuple[Any, ...]) -> Any:
        retried = False
        while self.multiplexing:
            protocol = await self._connected()
            if protocol is None:
                break
            try:
                return await protocol.call(args, self.timeout_s)
            except RedisTimeoutError:
                protocol.abort()
                raise
            except RedisConnectionError:  # lost with the command unanswered (a restart): once more, anew
                if retried:
                    raise
                retried = True
        return await self._client.execute_command(*args)  # type: ignore[no-untyped-call]

    async def _connected(self) -> _Protocol | None:
        """The shared connection, made if there is none (redis-py's ConnectionError or TimeoutError when it cannot
        be); None when this redis-py's connections cannot be shared, and the pool serves from then on."""
        protocol = self._protocol
        if protocol is not None and protocol.open:
            return protocol
        # One attempt at a time, whose outcome everyone waiting meets: a server that cannot be reached costs each
        # caller one attempt's wait, not one attempt for each caller ahead of it.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connected_or_not)
        return await asyncio.shield(self._connecting)

    def _connected_or_not(self, attempt: asyncio.Future[_Protocol | None]) -> None:
        self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._protocol = attempt.result()

    async def _connect(self) -> _Protocol | None:
        # RESP2 whatever the URL asks: RESP3 servers may push messages nobody asked for, which would take the place
        # of a reply in the order.
        connection = self._pool.connection_class(**{**self._pool.connection_kwargs, "protocol": 2})
        try:
            await connection.connect()  # type: ignore[no-untyped-call]
        except BaseException:  # cancelled mid-handshake too: its socket is not left for the collector
            await asyncio.shield(connection.disconnect(nowait=True))
            raise
        writer = getattr(connection, "_writer", None)
        if not isinstance(writer, asyncio.StreamWriter):  # pragma: no cover - a redis-py that keeps no stream
            log.warning("redis connections cannot be shared here; each command takes one from the pool")
            await connection.disconnect()
            self.multiplexing = False
            return None
        # The connection is ours now: redis-py must not close it when its object goes.
        connection._reader = connection._writer = None
        self._offset_ms = None  # perhaps another server (a failover): its clock is asked anew
        protocol = _Protocol(writer)
        transport = writer.transport
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        return protocol

    async def aclose(self) -> None:
        attempt = self._connecting
        if attempt is not None:
            attempt.cancel()
            await asyncio.wait({attempt})  # its connection closed before the loop may end
        if self._protocol is not None:
            self._protocol.abort()
            self._protocol = None


class _Protocol(asyncio.Protocol):
    def __init__(self, stream: asyncio.StreamWriter) -> None:
        self._stream = stream  # kept while the connection lives: a StreamWriter closes its transport when it goes
        self._reader = hiredis.Reader(replyError=BaseParser.parse_error)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._transport: asyncio.Transport | None = None
        self._writable = asyncio.Event()  # clear while the transport's buffer is full
        self._writable.set()
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not registered as asyncio.Transport, so no isinstance check here
        self._transport, self.open = cast(asyncio.Transport, transport), True

    async def call(self, args: tuple[Any, ...], timeout_s: float | None) -> Any:
        # A caller giving up (a timeout, a cancelled request) cancels its future but leaves it in line: the reply still
        # meets its own command when it comes, and is dropped there.
        try:
            async with asyncio.timeout(timeout_s):
                if not self._writable.is_set():  # a server that does not read: wait, within the same timeout
                    await self._writable.wait()
                if not self.open or self._transport is None:
                    raise RedisConnectionError("redis connection closed")
                reply = asyncio.get_running_loop().create_future()
                self._transport.write(hiredis.pack_command(args))
                self._waiting.append(reply)
                result = await reply
        except TimeoutError:  # asyncio's (the builtin), as redis-py's own
            raise RedisTimeoutError("Timeout reading from redis") from None
        if isinstance(result, RedisError):
            raise result
        return result

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                if not self._waiting:
                    raise hiredis.ProtocolError("a reply nobody asked for")
                waiting = self._waiting.popleft()
                if not waiting.done():
                    waiting.set_result(reply)  # an error reply too: `call` raises it in the caller
        except hiredis.ProtocolError:
            log.error("redis sent what could not be read; reconnecting")
            self.abort()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.resume_writing()
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_exception(RedisConnectionError("Connection closed by server."))

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost fails whatever was waiting

    def abort(self) -> None:
        """Drop the connection now; every command still waiting fails with ConnectionError."""
        if self._transport is not None:
            self._transport.abort()
        self.connection_lost(None)
