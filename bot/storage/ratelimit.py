"""A rate limiter shared by every worker through Redis, so provider limits hold for all workers together.

Each limit is a sliding-window log: one sorted set per limit name, one member per grant, scored by Redis server time
in microseconds. One Lua script trims, counts and records for all of a call's limits at once, so a grant is
all-or-nothing (a message refused by its chat's limit uses none of the bot's) and every worker shares the clock of
the Redis server rather than its own.

Redis Cluster: the keys of one script call must share a slot, but each limit has its own hash tag (`{telegram}`,
`{telegram-chat:tg-abc}`), so a Cluster deployment would need one hash tag for all keys of a call. This project runs
on a single Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio

from bot.storage import keys

# Workers woken for the same free slot spread out over this much, so one wins and the rest get a fresh hint.
_JITTER_S = 0.005
_MIN_WAIT_S = 0.001

# KEYS: one sorted set per limit. ARGV: member prefix, then count and window (microseconds) for each key.
# Returns 0 after recording the grant in every key, else the microseconds until the fullest limit has room.
# Scripts that call TIME need redis.replicate_commands() on Redis < 5 only; from 5 effects replication is the default.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  if used >= count then
    -- Room comes back when the entry at index used - count leaves the window.
    local entry = redis.call('ZRANGE', key, used - count, used - count, 'WITHSCORES')
    wait = math.max(wait, tonumber(entry[2]) + window - now)
  end
end
if wait > 0 then
  return wait
end
local member = ARGV[1] .. '@' .. t[1] .. '.' .. t[2]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1]) / 1000))
end
return 0
"""


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


class RedisRateLimiter:
    """Grants across processes. Redis errors propagate; callers decide whether to retry or drop.

    Each limit is enforced over `per_s * (1 + margin)` seconds, not `per_s`: the provider stamps a message some
    variable time after our grant, and the margin keeps that jitter from putting `count + 1` messages into one of the
    provider's windows. The achieved rate under full load is therefore `count / (per_s * (1 + margin))`, about 95% of
    the limit with the default margin.
    """

    def __init__(self, client: redis.asyncio.Redis, *, margin: float = 0.05) -> None:
        if not margin >= 0:
            raise ValueError("margin must be >= 0")
        self._margin = margin
        self._script = client.register_script(_ACQUIRE)
        self._grants = itertools.count()

    async def try_acquire(self, limits: Sequence[Limit], token: str) -> float:
        """All-or-nothing: when every limit has room, record one grant in each and return 0.0; otherwise record
        nothing and return the seconds to wait before a retry can succeed (> 0).

        `token` names the caller (e.g. a worker id) in the stored entries; it too must be opaque.
        """
        if not limits:
            raise ValueError("try_acquire needs at least one limit")
        if not token:
            raise ValueError("token must be non-empty")
        args: list[str | int] = [f"{token}:{next(self._grants)}"]
        for limit in limits:
            args += [limit.count, max(1, round(limit.per_s * (1 + self._margin) * 1_000_000))]
        wait_us = int(await self._script(keys=[keys.ratelimit(limit.name) for limit in limits], args=args))
        return 0.0 if wait_us == 0 else max(wait_us / 1_000_000, _MIN_WAIT_S)

    async def acquire(self, limits: Sequence[Limit], token: str, *, timeout_s: float | None = None) -> bool:
        """Wait (asyncio.sleep the hinted time, plus a little jitter) until try_acquire grants; False on timeout.

        Returns False as soon as the hinted wait would end past the timeout, since no grant can come sooner.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            wait = await self.try_acquire(limits, token)
            if wait == 0.0:
                return True
            if deadline is not None and loop.time() + wait > deadline:
                return False
            await asyncio.sleep(wait + random.uniform(0, _JITTER_S))
