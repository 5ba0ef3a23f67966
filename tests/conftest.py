"""Shared pytest fixtures, one section per concern."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio
from redis_server import RedisServer, RedisServerUnavailable

from bot.content.loader import Content, load_content

# As every process sets it (bot/app/logs.py): PTB 22 then builds RetryAfter without a deprecation warning, which
# `filterwarnings = error` would turn into an exception inside PTB whichever test first meets a 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

# An ID_HASH_SECRET a configuration with channels accepts (the development one is refused).
ID_SECRET = "test-only-id-secret-" + "0123456789abcdef" * 2

# --- Redis: a private server for the session, emptied before each test --------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except RedisServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real redis-server: {exc}", pytrace=False)
        pytest.skip(f"no redis-server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.start()  # a no-op unless an earlier outage test left it stopped
    redis_server.flushall()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.asyncio.Redis]:
    """An unconnected client. Its connections belong to the event loop that opens them, so close it inside
    the same asyncio.run that uses it (`async with redis_client: ...`); it reconnects if used again."""
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    try:
        asyncio.run(client.aclose())
    except RuntimeError as exc:
        pytest.fail(f"redis_client was left open by a finished event loop; close it inside asyncio.run ({exc})")


# --- The core: a clock the tests move, and the real content ----------------------------------------------------


class FixedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()
