"""A rate limiter shared by every worker through Redis, so provider limits hold for all workers together.

Each limit is a sliding-window log: one sorted set per limit name, one member per grant, scored by Redis server time
in microseconds. One Lua script trims, counts and records for all of a call's limits at once, so a grant is
all-or-nothing (a message refused by its chat's limit uses none of the bot's) and every worker shares the clock of
the Redis server rather than its own.

What must hold is the provider's count: at most `count` messages *arriving* in any window. A message arrives some
time after its grant (the worker is scheduled, the request crosses the network), up to a few hundred ms on a busy
two-core machine, so a log scored by grant time lets `count + 1` arrivals share one of the provider's windows. Each
grant is therefore held, scored in the future, while its message is in flight, and `release` re-scores it at the time
the send finished, which is after the provider received it. The proof is short: take the latest-granted of any
`count + 1` messages that arrived within one window; at its grant, each of the others was either in flight (held) or
finished after it arrived, inside the window, so `count` entries were in the log and it could not have been granted.
The cost is the send's own duration per slot: the rate at saturation is `count / (window + send time)`.

A hold is short (`hold_s`, 3 s) and renewed while the send lasts (`holding` renews it every third of that), so a
grant whose worker died in flight stops taking a slot within `hold_s` instead of the longest a send may take: one
killed worker with a dozen sends in flight would otherwise cost a 50/s limit a quarter of its rate for that long.
(A process whose event loop stalls for longer than two thirds of `hold_s` mid-send can let its hold lapse.)

Redis Cluster: the keys of one script call must share a slot, but each limit has its own hash tag (`{telegram}`,
`{telegram-chat:tg-abc}`), so a Cluster deployment would need one hash tag for all keys of a call. This project runs
on a single Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio
from redis.exceptions import RedisError

from bot.storage import keys
from bot.storage.scripts import Script

# Workers woken for the same free slot spread out over this much, so one wins and the rest get a fresh hint.
_JITTER_S = 0.005
_MIN_WAIT_S = 0.001

_ACQUIRE, _RELEASE = Script("acquire_slot"), Script("release_slot")
_CANCEL, _RENEW = Script("cancel_slot"), Script("renew_slot")


class LimiterTime(Protocol):
    def now_us(self) -> int | None:
        """Now, in microseconds; None: Redis's own clock (TIME, shared by every process)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RedisTime:
    """Redis's clock for the limits, and asyncio's sleep for the waits."""

    def now_us(self) -> int | None:
        return None

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Limit:
    """At most `count` grants in any window of `per_s` seconds, shared by everyone using the same `name`.

    The name becomes part of a Redis key: pass an opaque name (`telegram-chat:tg-abc`), never a phone number or chat id.
    """

    name: str
    count: int
    per_s: float = 1.0

    def __post_init__(self) -> None:
        keys.tag(self.name)  # raises ValueError for an empty name or one with braces
        if self.count < 1:
            raise ValueError("a limit's count must be >= 1")
        if not self.per_s > 0:
            raise ValueError("a limit's per_s must be > 0")


@dataclass(frozen=True)
class Grant:
    """One slot in each of a call's limits, held until `release`."""

    keys: tuple[str, ...]
    windows_us: tuple[int, ...]
    member: str


class RedisRateLimiter:
    """Grants across processes. Redis errors propagate; callers decide whether to retry or drop.

    Send inside `holding(grant)`, which keeps the grant held while the send lasts and releases it after, sent or not;
    a grant that is never released (its process died) stays held for `hold_s`.
    """

    def __init__(self, client: redis.asyncio.Redis, *, hold_s: float = 3.0, time: LimiterTime | None = None) -> None:
        """`time`: where now and waits come from (a test's controllable clock); Redis's clock and asyncio's sleep
        by default."""
        if not hold_s > 0:
            raise ValueError("hold_s must be > 0")
        self._time = time or RedisTime()
        self._hold_s = hold_s
        self._hold_us = round(hold_s * 1_000_000)
        self._client = client
        self._process = secrets.token_hex(3)  # members stay unique across processes sharing a token
        self._lines: dict[str, asyncio.Lock] = {}  # this process's waiters, per shared limit (see acquire)
        self._grants = itertools.count()

    async def try_acquire(self, limits: Sequence[Limit], token: str) -> Grant | float:
        """All-or-nothing: when every limit has room, record one held grant in each and return it; otherwise record
        nothing and return the seconds to wait before a retry can succeed (> 0).

        `token` names the caller (e.g. a worker id) in the stored entries; it too must be opaque.
        """
        got, _ = await self._attempt(limits, token)
        return got

    async def _attempt(self, limits: Sequence[Limit], token: str) -> tuple[Grant | float, int]:
        """try_acquire, and the index of the limit that held it back (0 with a grant)."""
        if not limits:
            raise ValueError("try_acquire needs at least one limit")
        if not token:
            raise ValueError("token must be non-empty")
        names = tuple(keys.ratelimit(limit.name) for limit in limits)
        windows = tuple(max(1, round(limit.per_s * 1_000_000)) for limit in limits)
        args: list[str | int | bytes] = [f"{token}:{self._process}:{next(self._grants)}", self._hold_us, self._now()]
        for limit, window in zip(limits, windows, strict=True):
            args += [limit.count, window]
        result = await _ACQUIRE(self._client, list(names), args)
        if isinstance(result, bytes | str):
            return Grant(names, windows, result.decode() if isinstance(result, bytes) else result), 0
        wait, binding = result
        return max(int(wait) / 1_000_000, _MIN_WAIT_S), int(binding)

    async def acquire(self, limits: Sequence[Limit], token: str, *, timeout_s: float | None = None) -> Grant | float:
        """Wait until a grant (sleeping the hinted time, plus a little jitter, between attempts). On timeout, the
        wait still hinted (> 0) instead of a grant: returned as soon as the hint would end past the timeout, since
        no grant can come sooner.

        Callers in one process held back by the same shared limit (the first, e.g. the bot's) wait in line, and
        only the first in line asks Redis: otherwise every waiter wakes for each freed slot and all but one ask in
        vain (tens of attempts per grant at saturation). One held back by a later limit (its chat's) waits alone.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        got, binding = await self._attempt(limits, token)
        while not isinstance(got, Grant):
            if deadline is not None and loop.time() + got > deadline:
                return got
            if binding != 0:
                await self._time.sleep(got + random.uniform(0, _JITTER_S))
                got, binding = await self._attempt(limits, token)
                continue
            line = self._lines.setdefault(limits[0].name, asyncio.Lock())
            stale = line.locked()  # others are in line: by the time this caller is first, its hint is old
            try:
                # Only the wait in line is timed out, never a call to Redis: a script cancelled after it ran
                # would leave a grant nobody uses, held for `hold_s`.
                async with asyncio.timeout(None if deadline is None else deadline - loop.time()):
                    await line.acquire()
            except TimeoutError:
                return got  # the last hint this caller had: still > 0, and no grant came in time
            try:
                if stale:
                    got, binding = await self._attempt(limits, token)
                # First in line: wait out the hint, then ask, until granted or held back by another limit.
                while not isinstance(got, Grant) and binding == 0:
                    if deadline is not None and loop.time() + got > deadline:
                        return got
                    await self._time.sleep(got + random.uniform(0, _JITTER_S))
                    got, binding = await self._attempt(limits, token)
            finally:
                line.release()
        return got

    def _now(self) -> str:
        now = self._time.now_us()
        return "" if now is None else str(now)

    async def release(self, grant: Grant) -> None:
        """The grant's send is over (sent, failed or unknown): it counts for one window from now."""
        await _RELEASE(self._client, list(grant.keys), [grant.member, self._now(), *grant.windows_us])

    async def cancel(self, grant: Grant) -> None:
        """The grant's message will not be sent (nothing was, or will be, on the wire): its slot is free again."""
        await _CANCEL(self._client, list(grant.keys), [grant.member])

    async def renew(self, grant: Grant) -> None:
        """Hold a grant still in flight for another `hold_s` from now (nothing once it is released)."""
        await _RENEW(self._client, list(grant.keys), [grant.member, self._hold_us, self._now(), *grant.windows_us])

    @contextlib.asynccontextmanager
    async def holding(self, grant: Grant) -> AsyncIterator[None]:
        """Run the block (the send) with the grant held, renewed every third of `hold_s`, and release the grant when
        the block ends, however it ends. A Redis error in a renewal or the release is not raised: the grant then
        stays held until its hold runs out, which is slower, never over the limit."""
        keeper = asyncio.create_task(self._keep(grant))
        try:
            yield
        finally:
            keeper.cancel()  # a renewal already on its way does nothing once the release has landed
            with contextlib.suppress(RedisError):
                await self.release(grant)

    async def _keep(self, grant: Grant) -> None:
        while True:
            await self._time.sleep(self._hold_s / 3)
            with contextlib.suppress(RedisError):
                await self.renew(grant)
