"""A durable schedule in Redis: a sorted set of ids scored by due time, claimed under a lease.

Claiming pushes an id's score forward by the lease instead of removing it, so a worker that dies mid-delivery loses
nothing: the id comes due again when the lease runs out and another worker takes it. The claimed score is the claim's
fencing token: `finish` and `postpone` only act while the id still carries it, so a worker whose lease ran out (and
whose id was claimed again) cannot remove or move another worker's claim. Used for check-ins and for staff pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio
from redis.exceptions import NoScriptError

# KEYS: schedule. ARGV: now ms, lease ms, limit. Returns [id, score, id, score, ...] of the claimed ids.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local leased = tonumber(ARGV[1]) + tonumber(ARGV[2])
local out = {}
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', leased, id)
  out[#out + 1] = id
  out[#out + 1] = tostring(leased)
end
return out
"""

# KEYS: schedule. ARGV: id, claimed score, new score ('' removes). 1 when the claim was still held.
_SETTLE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
end
return 1
"""


@dataclass(frozen=True)
class Claim:
    id: str
    lease: int  # the score the claim set (ms): its fencing token


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_millis(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Script:
    """EVALSHA with a fallback to EVAL after a restart or SCRIPT FLUSH. A named one can also run inside another
    script, as part of a folded Batch (`fold`)."""

    def __init__(self, source: str, name: str | None = None) -> None:
        self.source, self.sha, self.name = source, hashlib.sha1(source.encode()).hexdigest(), name

    async def __call__(self, client: redis.asyncio.Redis, keys: list[str], args: list[str | int | bytes]) -> object:
        return await self.run(client.execute_command, keys, args)

    async def run(
        self, execute: Callable[..., Awaitable[Any]], keys: list[str], args: list[str | int | bytes]
    ) -> object:
        """Through `execute` (a client's execute_command, or Multiplexed.execute)."""
        try:
            return await execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await execute("EVAL", self.source, len(keys), *keys, *args)


CLAIM, SETTLE = Script(_CLAIM), Script(_SETTLE)


class Batch:
    """Commands sent together in one round trip (a pipeline, not a transaction), run in order. The pipeline starts
    with a SCRIPT LOAD of each script it uses, so an EVALSHA never meets an empty script cache (after a Redis
    restart) halfway through: a retried script would run after commands queued behind it, out of order."""

    def __init__(self) -> None:
        # (script, keys, arguments); no script: an XADD, whose arguments are the cap, then field, value, ...
        self._ops: list[tuple[Script | None, list[str], list[str | int | bytes]]] = []

    def script(self, script: Script, keys: list[str], args: list[str | int | bytes]) -> None:
        self._ops.append((script, keys, args))

    def xadd(self, key: str, fields: dict[str, str], maxlen: int) -> None:
        self._ops.append((None, [key], [maxlen, *(part for pair in fields.items() for part in pair)]))

    def __len__(self) -> int:
        return len(self._ops)

    def folded(self) -> tuple[list[str], list[str | int | bytes]]:
        """The batch as the tail of another script's KEYS and ARGV, for the Lua from `fold` to run: every op's
        keys, in order; then per op its name, key count, argument count and arguments."""
        names: list[str] = []
        args: list[str | int | bytes] = []
        for script, keys, op_args in self._ops:
            name = "xadd" if script is None else script.name
            if name is None:
                raise ValueError("only a named script can be folded")
            names += keys
            args += [name, len(keys), len(op_args), *op_args]
        return names, args

    async def run(self, client: redis.asyncio.Redis) -> list[object]:
        if not self._ops:
            return []
        scripts = {script.sha: script for script, *_ in self._ops if script is not None}
        async with client.pipeline(transaction=False) as pipe:
            for loaded in scripts.values():
                pipe.script_load(loaded.source)
            for script, keys, args in self._ops:
                if script is None:
                    pipe.execute_command("XADD", keys[0], "MAXLEN", "~", args[0], "*", *args[1:])
                else:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
            results: list[object] = (await pipe.execute(raise_on_error=False))[len(scripts) :]
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results


def fold(*scripts: Script) -> str:
    """Lua for a script that also runs a folded Batch of these scripts (and XADDs): it defines
    `run_folded(k, a)`, which runs the ops whose keys start at KEYS[k] and whose descriptions start at ARGV[a]."""
    functions = "".join(f"ops[{s.name!r}] = function(KEYS, ARGV)\n{s.source}end\n" for s in scripts)
    return (
        "local ops = {}\n"
        "ops['xadd'] = function(KEYS, ARGV)\n"
        "  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 2))\n"
        "end\n"
        + functions
        + """local function run_folded(k, a)
  while a <= #ARGV do
    local name, nk, na = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    ops[name]({unpack(KEYS, k, k + nk - 1)}, {unpack(ARGV, a + 3, a + 2 + na)})
    k, a = k + nk, a + 3 + na
  end
end
"""
    )


class LeasedSchedule:
    def __init__(self, client: redis.asyncio.Redis, key: str) -> None:
        self.client, self.key = client, key

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        lease_ms = int(lease.total_seconds() * 1000)
        raw = await CLAIM(self.client, [self.key], [millis(now), lease_ms, limit])
        assert isinstance(raw, list)
        return [Claim(_text(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]

    async def finish(self, claim: Claim) -> bool:
        """Remove the id, if this claim still holds it."""
        return bool(await SETTLE(self.client, [self.key], [claim.id, claim.lease, ""]))

    async def postpone(self, claim: Claim, due: datetime) -> bool:
        """Move the id to a new due time, if this claim still holds it."""
        return bool(await SETTLE(self.client, [self.key], [claim.id, claim.lease, millis(due)]))

    async def next_due(self) -> datetime | None:
        """When the earliest id comes due (a leased one: when its lease runs out); None when the schedule is empty."""
        first = await self.client.zrange(self.key, 0, 0, withscores=True)
        return from_millis(float(first[0][1])) if first else None

    async def pending(self) -> int:
        return int(await self.client.zcard(self.key))

    async def due(self, now: datetime) -> int:
        return int(await self.client.zcount(self.key, "-inf", millis(now)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
