"""A durable schedule in Redis: a sorted set of ids scored by due time, claimed under a lease.

Claiming pushes an id's score forward by the lease instead of removing it, so a worker that dies mid-delivery loses
nothing: the id comes due again when the lease runs out and another worker takes it. The claimed score is the claim's
fencing token: `finish` and `postpone` only act while the id still carries it, so a worker whose lease ran out (and
whose id was claimed again) cannot remove or move another worker's claim. Used for check-ins and for staff pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio

from bot.storage.scripts import Script


@dataclass(frozen=True)
class Claim:
    id: str
    lease: int  # the score the claim set (ms): its fencing token


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_millis(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


CLAIM, SETTLE = Script("claim"), Script("settle")


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
