"""One shared Redis connection (bot/storage/multiplex.py), against a real redis-server: replies meet their own
commands whatever else is in flight, errors and timeouts are redis-py's, and a restart or a freeze is survived."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.storage.conversations import Loaded, RedisConversationStore, Written
from bot.storage.multiplex import Multiplexed
from bot.triage.session import Session
from tests.redis_server import RedisServer, free_port, stop_process

pytestmark = pytest.mark.real_redis

Scenario = Callable[[Multiplexed, redis.asyncio.Redis], Awaitable[None]]


def run(url: str, scenario: Scenario, *, timeout_s: float | None = 1.0) -> None:
    async def main() -> None:
        client = redis.asyncio.Redis.from_url(url, socket_timeout=timeout_s)
        shared = Multiplexed(client)
        try:
            await scenario(shared, client)
        finally:
            await shared.aclose()
            await client.aclose()

    asyncio.run(main())


def connections(server: RedisServer) -> int:
    with redis.Redis.from_url(server.url) as client:
        return len(client.client_list()) - 1  # less this one


def test_replies_meet_their_own_commands_however_many_are_in_flight(redis_server: RedisServer) -> None:
    async def scenario(shared: Multiplexed, client: redis.asyncio.Redis) -> None:
        await shared.execute("SET", "n", 0)
        replies = await asyncio.gather(*(shared.execute("ECHO", f"m{i}") for i in range(500)))
        assert replies == [f"m{i}".encode() for i in range(500)]
        counts = await asyncio.gather(*(shared.execute("INCR", "n") for _ in range(200)))
        assert sorted(counts) == list(range(1, 201))
        assert shared.sent == 701
        assert connections(redis_server) == 1  # all of it on one connection (the pool opened none)

    run(redis_server.start().url, scenario)


def test_error_replies_are_redis_py_errors_and_keep_the_order(redis_url: str) -> None:
    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        await shared.execute("SET", "text", "abc")
        results = await asyncio.gather(
            shared.execute("EVALSHA", "0" * 40, 0),
            shared.execute("GET", "text"),
            shared.execute("INCR", "text"),
            shared.execute("MGET", "text", "absent"),
            return_exceptions=True,
        )
        assert isinstance(results[0], NoScriptError)  # Script falls back to EVAL on exactly this class
        assert results[1] == b"abc"
        assert isinstance(results[2], ResponseError) and not isinstance(results[2], NoScriptError)
        assert results[3] == [b"abc", None]

    run(redis_url, scenario)


def test_the_url_chooses_the_database(redis_url: str) -> None:
    async def scenario(shared: Multiplexed, client: redis.asyncio.Redis) -> None:
        await shared.execute("SET", "where", "db3")
        assert await client.get("where") == b"db3"
        async with redis.asyncio.Redis.from_url(redis_url) as db0:
            assert await db0.get("where") is None

    run(redis_url.rsplit("/", 1)[0] + "/3", scenario)


def test_a_caller_that_gives_up_does_not_shift_the_replies(redis_url: str) -> None:
    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        await shared.execute("SET", "k", "v")
        blocked = asyncio.create_task(shared.execute("BLPOP", "nothing", 0.3))  # holds the connection 0.3 s
        await asyncio.sleep(0.05)
        blocked.cancel()  # its reply (nil) still comes, first, and is dropped
        assert await shared.execute("GET", "k") == b"v"
        with pytest.raises(asyncio.CancelledError):
            await blocked

    run(redis_url, scenario)


def test_a_restarted_server_is_reached_again_without_an_error(redis_server: RedisServer) -> None:
    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        await shared.execute("SET", "k", "v")
        redis_server.restart()  # nothing is persisted: the value is gone, the connection too
        assert await shared.execute("GET", "k") is None
        assert await shared.execute("PING") == b"PONG"

    run(redis_server.start().url, scenario)


def test_a_stopped_server_is_a_connection_error_at_once(redis_server: RedisServer) -> None:
    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        await shared.execute("PING")
        redis_server.stop()
        try:
            started = time.monotonic()
            with pytest.raises(RedisConnectionError):
                await shared.execute("PING")
            assert time.monotonic() - started < 1.0  # refused, not waited for
        finally:
            redis_server.start()
        assert await shared.execute("PING") == b"PONG"

    run(redis_server.start().url, scenario)


def test_a_frozen_server_times_out_and_its_late_replies_reach_nobody(redis_server: RedisServer) -> None:
    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        await shared.execute("SET", "k", "before")
        redis_server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(RedisTimeoutError):
                await shared.execute("GET", "k")
            assert 0.25 <= time.monotonic() - started < 1.5
        finally:
            redis_server.resume()
        await shared.execute("SET", "k", "after")  # a new connection: the old one's late reply goes nowhere
        assert await shared.execute("GET", "k") == b"after"

    run(redis_server.start().url, scenario, timeout_s=0.3)


def test_a_frozen_server_that_stops_reading_holds_nobody_past_the_timeout(redis_server: RedisServer) -> None:
    """Megabytes written to a server that reads nothing fill the socket's buffers; the callers behind them wait for
    room to write, and that wait is inside their timeout too."""

    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        await shared.execute("PING")
        redis_server.pause()
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(shared.execute("SET", f"big{i}", b"x" * 50_000) for i in range(200)), return_exceptions=True
            )
            assert time.monotonic() - started < 2.0
            assert all(isinstance(r, RedisTimeoutError | RedisConnectionError) for r in results)
        finally:
            redis_server.resume()
        assert await shared.execute("PING") == b"PONG"

    run(redis_server.start().url, scenario, timeout_s=0.3)


def test_the_servers_clock_is_known_without_a_round_trip_each_time(redis_url: str) -> None:
    async def scenario(shared: Multiplexed, client: redis.asyncio.Redis) -> None:
        estimate = await shared.server_time_ms()
        seconds, micros = await client.time()
        assert abs(estimate - (seconds * 1000 + micros / 1000)) < 100
        sent = shared.sent
        await shared.server_time_ms()
        assert shared.sent == sent  # TIME is not asked again (nor counted as the caller's round trip)

    run(redis_url, scenario)


def test_without_hiredis_the_pool_serves(redis_url: str) -> None:
    async def scenario(shared: Multiplexed, _: redis.asyncio.Redis) -> None:
        shared.multiplexing = False  # as when hiredis is not installed
        await shared.execute("SET", "k", "v")
        assert await shared.execute("MGET", "k", "absent") == [b"v", None]
        with pytest.raises(NoScriptError):
            await shared.execute("EVALSHA", "0" * 40, 0)
        assert await shared.server_time_ms() > 0

    run(redis_url, scenario)


# --- the conversation store's commit deadline ------------------------------------------------------------------


T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
PID = "sms-deadline"


def session(node: str) -> Session:
    return Session(flow_id="knee", flow_version=1, node=node, started_at=T0, updated_at=T0)


def test_a_commit_that_reaches_a_frozen_server_writes_nothing_when_it_wakes(redis_server: RedisServer) -> None:
    """The caller stops waiting after the client's timeout and tells the person to try again; a commit that Redis
    runs later (it was frozen, with the command in its socket) must not store the turn after all."""

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url, socket_timeout=0.3)
        async with RedisConversationStore(client) as store:
            first = await store.submit(PID, 0, session("q1"), message_id="m1")
            assert isinstance(first, Written)
            redis_server.pause()
            try:
                with pytest.raises(RedisTimeoutError):
                    await store.submit(PID, first.revision, session("q2"), message_id="m2")
                await asyncio.sleep(0.4)  # well past the deadline
            finally:
                redis_server.resume()
            assert await store.load(PID, "m2") == Loaded(session("q1"), first.revision, None)

    redis_server.start()
    redis_server.flushall()
    asyncio.run(main())


def test_a_wrong_estimate_of_the_servers_clock_is_learnt_again(redis_url: str) -> None:
    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=1.0)
        async with RedisConversationStore(client) as store:
            first = await store.submit(PID, 0, session("q1"), message_id="m1")
            assert isinstance(first, Written)
            store.multiplexed._offset_ms -= 10_000  # type: ignore[operator]  # as if the server's clock stepped
            with pytest.raises(RedisTimeoutError):  # every deadline is in the past: nothing is written
                await store.submit(PID, first.revision, session("q2"), message_id="m2")
            assert (await store.load(PID)).session == session("q1")
            again = await store.submit(PID, first.revision, session("q2"), message_id="m2")
            assert isinstance(again, Written)  # the clock was asked again

    asyncio.run(main())


# --- a TLS server with a password, as managed Redis services run it ---------------------------------------------


@pytest.fixture
def tls_redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server that speaks only TLS (a self-signed certificate for 127.0.0.1) and wants a password;
    its URL carries both, as a platform's REDIS_URL does."""
    openssl, server = shutil.which("openssl"), shutil.which("redis-server")
    if openssl is None or server is None:
        pytest.skip("needs openssl and redis-server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    args = [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)]
    args += ["--tls-auth-clients", "no", "--requirepass", "s3cret", "--dir", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"rediss://:s3cret@127.0.0.1:{port}/2?ssl_ca_certs={cert}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis.from_url(url, socket_timeout=1) as client:
                    client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        stop_process(proc)


def test_a_tls_server_with_a_password_is_shared_as_well(tls_redis_url: str) -> None:
    async def scenario(shared: Multiplexed, client: redis.asyncio.Redis) -> None:
        replies = await asyncio.gather(*(shared.execute("ECHO", f"m{i}") for i in range(100)))
        assert replies == [f"m{i}".encode() for i in range(100)]
        await shared.execute("SET", "where", "db2")
        assert await client.get("where") == b"db2"  # the URL's database, through the same handshake
        assert shared.multiplexing  # shared, not left to the pool

    run(tls_redis_url, scenario)
