"""Shared pytest fixtures, one section per concern."""

from __future__ import annotations

import asyncio
import compileall
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio
from redis_server import RedisServer, RedisServerUnavailable

from bot.content.loader import ROOT, Content, load_content

# As every process sets it (bot/app/logs.py): PTB 22 then builds RetryAfter without a deprecation warning, which
# `filterwarnings = error` would turn into an exception inside PTB whichever test first meets a 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

# An ID_HASH_SECRET a configuration with channels accepts (the development one is refused).
ID_SECRET = "test-only-id-secret-" + "0123456789abcdef" * 2

# --- Processes: the tests start kneebot as a command a few hundred times ----------------------------------------


# The copy of the loaded content that saves each of them the load (bot/content/cache.py): made once in a folder
# of the test run's own, never in the user's cache.
CONTENT_CACHE = tempfile.mkdtemp(prefix="kneebot-content-")
os.environ["KNEEBOT_CONTENT_CACHE"] = CONTENT_CACHE


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(CONTENT_CACHE, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Where Python writes no bytecode (PYTHONDONTWRITEBYTECODE, as on the project's machines), each of those
    processes would compile the package's modules again, a tenth of its start-up: compile them once, beside the
    sources (in __pycache__, which git ignores), as an install that keeps bytecode has them."""
    if sys.flags.dont_write_bytecode:
        compileall.compile_dir(Path(__file__).resolve().parent.parent / "bot", quiet=1)


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


def copy_content(into: Path) -> Path:
    """A copy of the project's content files (flows/, locales/) to change in a test; its root."""
    for name in ("flows", "locales"):
        shutil.copytree(ROOT / name, into / name)
    return into


class VirtualTime:
    """Time for code that waits (the rate limiter's clock and sleeps): it moves only when the test moves it. A sleep
    ends when `advance` passes its end; `advance` runs nothing itself, the woken tasks run at the test's next await."""

    def __init__(self, start_us: int = 1_780_000_000_000_000) -> None:
        self.us = start_us
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []
        self._slept = asyncio.Event()

    def now_us(self) -> int:
        return self.us

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.us + max(0, round(seconds * 1_000_000)), woken))
        self._slept.set()
        await woken

    async def until_sleeping(self, count: int = 1) -> None:
        """Until `count` tasks wait on this clock (a task just started has not begun its first sleep yet)."""
        while len(self._sleepers) < count:
            self._slept.clear()
            await self._slept.wait()

    def advance(self, seconds: float) -> None:
        self.us += round(seconds * 1_000_000)
        due = [(at, woken) for at, woken in self._sleepers if at <= self.us]
        self._sleepers = [(at, woken) for at, woken in self._sleepers if at > self.us]
        for _, woken in due:
            if not woken.done():
                woken.set_result(None)
