"""Pending check-ins: who to ask, when, and how to reach them. Durable in Redis, claimed under a lease.

Three kinds of key (bot/storage/keys.py): the shared schedule (`checkins`, ids `<participant>:<seq>`), one record per
check-in (`checkin:{p}:<seq>`: the address to send to and what the quiet-hours rule needs) and one index per person
(`checkin-index:{p}`) so that STOP, delete or a new assessment cancel all of theirs at once. The record holds the
chat id or phone number because the worker must send to it: a value, never a key name, deleted with the rest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.storage import keys
from bot.storage.schedule import Claim, LeasedSchedule, from_millis, millis
from bot.storage.scripts import Batch, Script

AuditArgs = list[str | int | bytes]  # an audit entry for a script: the stream's cap, then field, value, ...

KEEP_AFTER_DUE = timedelta(days=30)  # a record outlives its due time by this much, then expires on its own
# Each check-in's place in the schedule is its due time plus a fixed 0-999 ms from its id. Check-ins due at the same
# instant (quiet hours end at 08:00 for a whole time zone) would otherwise be claimed in id order, every `sms-` one
# before any `tg-` one, so one channel would wait for the other instead of both sending side by side.
SPREAD_MS = 1000


class Address(BaseModel):
    """Where a person is reached: the channel and the provider's id (chat id, or E.164 phone number)."""

    model_config = ConfigDict(frozen=True)

    channel: str  # telegram | sms
    to: str


class CheckIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    participant: str
    seq: int
    level: str
    address: Address
    locale: str = "en"
    country: str | None = None
    zone: str  # the person's IANA time zone, for quiet hours
    exempt: bool = False  # emergency and urgent check-ins are sent at night too
    due_at: datetime

    @property
    def id(self) -> str:
        return f"{self.participant}:{self.seq}"


@dataclass(frozen=True)
class Claimed:
    claim: Claim
    checkin: CheckIn | None  # None when the record is gone (cancelled between claim and read)


# Each change writes its own audit entry, when given one (an audit stream key and its arguments): there exactly
# when the change happened.
_SCHEDULE, _CANCEL = Script("schedule_checkin"), Script("cancel_checkins")
# The scripts a conversation's commit can carry (bot/storage/conversations.py folds them into its own).
CARRIED_SCRIPTS = (_SCHEDULE, _CANCEL)

_FINISH = Script("finish_checkin")


class CheckInStore:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self.schedule = LeasedSchedule(client, keys.checkins())

    async def add(self, checkin: CheckIn, now: datetime) -> bool:
        """Schedule it; False (and nothing changed) when this id is already scheduled: its id is deterministic."""
        batch = Batch()
        self.add_to(batch, checkin, now)
        return bool((await batch.run(self.client))[0])

    def add_to(self, batch: Batch, checkin: CheckIn, now: datetime, audit: AuditArgs | None = None) -> None:
        """`add` as part of a batch; with `audit`, the audit entry is written if (and only if) it was scheduled."""
        ttl = max(1, millis(checkin.due_at + KEEP_AFTER_DUE) - millis(now))
        names = [
            keys.checkins(),
            keys.checkin(checkin.participant, checkin.seq),
            keys.checkin_index(checkin.participant),
        ]
        args: list[str | int | bytes] = [
            checkin.id,
            _place(checkin.id, checkin.due_at),
            checkin.model_dump_json(),
            ttl,
            checkin.seq,
        ]
        if audit is not None:
            names.append(keys.audit())
            args += audit
        batch.script(_SCHEDULE, names, args)

    async def cancel(self, participant: str) -> int:
        """Cancel every pending check-in of this person; how many there were."""
        batch = Batch()
        self.cancel_to(batch, participant)
        count = (await batch.run(self.client))[0]
        assert isinstance(count, int)
        return count

    def cancel_to(self, batch: Batch, participant: str, audit: AuditArgs | None = None) -> None:
        """`cancel` as part of a batch; with `audit`, the entry (and the count) is written when any were pending."""
        prefix = keys.checkin(participant, 0)[:-1]
        names = [keys.checkins(), keys.checkin_index(participant)]
        args: list[str | int | bytes] = [participant, prefix]
        if audit is not None:
            names.append(keys.audit())
            args += audit
        batch.script(_CANCEL, names, args)

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        claims = await self.schedule.claim(now, lease, limit)
        if not claims:
            return []
        raws = await self.client.mget([keys.checkin(*_split(c.id)) for c in claims])
        return [Claimed(c, _decode(raw)) for c, raw in zip(claims, raws, strict=True)]

    async def finish(self, claimed: Claimed) -> bool:
        """Remove a delivered (or skipped) check-in; False when this claim no longer holds it."""
        participant, seq = _split(claimed.claim.id)
        names = [keys.checkins(), keys.checkin(participant, seq), keys.checkin_index(participant)]
        return bool(await _FINISH(self.client, names, [claimed.claim.id, claimed.claim.lease, seq]))

    async def postpone(self, claimed: Claimed, due: datetime, *, spread: bool = False) -> bool:
        """Move a claimed check-in to `due` (with `spread`, plus its fixed share of SPREAD_MS, as when scheduled);
        False when this claim no longer holds it."""
        if spread:
            due = from_millis(_place(claimed.claim.id, due))
        return await self.schedule.postpone(claimed.claim, due)

    async def next_due(self) -> datetime | None:
        return await self.schedule.next_due()

    async def pending_for(self, participant: str) -> list[CheckIn]:
        seqs = sorted(int(s) for s in await self.client.smembers(keys.checkin_index(participant)))
        if not seqs:
            return []
        raws = await self.client.mget([keys.checkin(participant, s) for s in seqs])
        return [c for c in (_decode(r) for r in raws) if c is not None]


def spread_ms(checkin_id: str) -> int:
    """The check-in's fixed share of SPREAD_MS, from its id."""
    digest = hashlib.blake2b(checkin_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % SPREAD_MS


def _place(checkin_id: str, due: datetime) -> int:
    """The check-in's score: due time (ms) plus its fixed spread."""
    return millis(due) + spread_ms(checkin_id)


def _split(checkin_id: str) -> tuple[str, int]:
    participant, _, seq = checkin_id.rpartition(":")
    return participant, int(seq)


def _decode(raw: bytes | str | None) -> CheckIn | None:
    if raw is None:
        return None
    try:
        return CheckIn.model_validate_json(raw)
    except ValidationError:
        return None
