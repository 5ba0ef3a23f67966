"""Conversation store: one record per conversation (session + revision), checked-and-set with its TTL."""

from __future__ import annotations

import logging
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import redis.asyncio
from pydantic import ValidationError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.clock import SystemClock
from bot.storage import keys
from bot.storage.checkins import CARRIED_SCRIPTS
from bot.storage.schedule import from_millis, millis
from bot.storage.scripts import Batch, Script
from bot.storage.sendqueue import QUEUE_CAP, SendJob
from bot.triage.session import Session

log = logging.getLogger("kneebot.storage")


@dataclass(frozen=True)
class Loaded:
    session: Session | None
    revision: int  # 0 when nothing is stored
    replay: str | None  # the outbox committed for this message id, when it was already processed
    processed: bool = False  # processed before, and its outbox is gone (deleted, or expired): nothing to do again
    wrote_at: datetime | None = None  # when the person last wrote (the conversation's clock), when known


@dataclass(frozen=True)
class Written:
    """The session is stored, as this revision; `session_json` is the session as stored (its JSON), for a caller
    that keeps it, so it is encoded once a turn."""

    revision: int
    session_json: bytes


@dataclass(frozen=True)
class Replayed:
    """The message was processed before: nothing was written, and this is the outbox committed then (its send job,
    if one was given, is queued again: its sending may not have finished)."""

    outbox: str


@dataclass(frozen=True)
class Processed:
    """The provider's message was processed before, and the record of its replies is gone (the person deleted their
    data, or it expired): nothing was written, and nothing is to be sent."""


@dataclass(frozen=True)
class Stale:
    """The stored revision was not the expected one (a concurrent write, or a conversation this process remembered
    wrongly): nothing was written, and this is what is stored now."""

    current: Loaded


Submitted = Written | Replayed | Processed | Stale


class ConversationStore(ABC):
    """What the conversation shell needs of a store; Redis in a deployment, memory for `kneebot chat` and tests."""

    @abstractmethod
    async def load(self, participant: str, message_id: str | None = None, *, provider: bool = False) -> Loaded:
        """The stored session and revision; with `message_id`, what that message got if it was processed before.
        `provider`: the id is the provider's (not a check-in's), also remembered apart from the person's data."""

    @abstractmethod
    async def submit(
        self,
        participant: str,
        revision: int,
        session: Session,
        *,
        outbox: str = "",
        message_id: str | None = None,
        provider: bool = False,
        wrote_at: datetime | None = None,
        queue: SendJob | None = None,
        then: Batch | None = None,
    ) -> Submitted:
        """In one step: a message already processed is Replayed (or Processed, when its replies' record is gone);
        otherwise the session is stored over `revision` (Written), unless the stored revision moved on (Stale, with
        what is stored). `provider`: `message_id` is the provider's, remembered apart from the person's data for
        PROCESSED_TTL. `wrote_at`: the message is the person's own, written then (on the conversation's clock),
        kept with the conversation for a channel whose free replies depend on when the person last wrote. `queue`: a
        delivery job for the send queue, added atomically with the state (needs
        `message_id`). `then`: what the turn set in motion (check-ins, audit entries), written in the same step as
        the state, and only if it is written."""

    async def commit(
        self,
        participant: str,
        revision: int,
        session: Session,
        *,
        outbox: str = "",
        message_id: str | None = None,
        queue: SendJob | None = None,
    ) -> bool:
        """submit(), as whether it was Written."""
        submitted = await self.submit(participant, revision, session, outbox=outbox, message_id=message_id, queue=queue)
        return isinstance(submitted, Written)

    @abstractmethod
    async def enqueue(self, job: SendJob) -> None:
        """Add a delivery job to the send queue on its own (a replayed message whose sending may be unfinished)."""

    @abstractmethod
    async def delete(self, participant: str) -> None: ...

    @abstractmethod
    async def delivered(self, participant: str, message_id: str) -> int:
        """How many replies to this message were recorded as sent (0 when none)."""

    @abstractmethod
    async def mark_delivered(self, participant: str, message_id: str, count: int) -> None:
        """Record `count` replies as sent, while the conversation exists: never about someone whose data is gone."""

    @abstractmethod
    async def ping(self) -> bool: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


# A record is `{"revision":N,"session":<Session JSON>}`, always written by _encode. The revision is read from that
# fixed prefix, here and in the Lua script alike, so a session that no longer validates keeps its revision and the
# next commit still succeeds.
_RECORD_PREFIX = re.compile(rb'^\{"revision":(\d+),"session":')

# The commit carries the follow-ups a turn set in motion (check-ins, audit entries): stored with the turn, or not at
# all. A commit that reaches Redis after its deadline writes nothing: otherwise the person, told to try again, would
# find their answer stored after all, and their next one taken as the answer to the question after it.
COMMIT = Script.carrying("commit", *CARRIED_SCRIPTS)
# How much of the client's timeout a commit may take to reach Redis: the rest is margin for the estimate of the
# server's clock (off by up to half a round trip) and for the reply's way back.
DEADLINE_SHARE = 0.75
DEDUPE_TTL = timedelta(days=3)  # a message's replies are kept this long, to answer a retry with the same
PROCESSED_TTL = timedelta(days=7)  # its provider id is remembered this long, whatever happens to the person's data
DEFAULT_SECRET = b"kneebot-processed-ids"  # tests and `kneebot chat`; a deployment passes ID_HASH_SECRET

Execute = Callable[..., Awaitable[Any]]
_MARK_DELIVERED = Script("mark_delivered")
SERVER_TIME_FOR_S = 600.0


# A new record starts at a random revision below this, not at 1, and each commit adds one. ConversationService
# remembers the conversations it handled and commits over the revision it remembers; were revisions counted from 1, a
# conversation deleted (or expired) and started again elsewhere could reach the remembered revision, and the
# remembered, deleted state would be written back over it. Exact in Lua's doubles (below 2**53).
FIRST_REVISIONS = 2**40


def next_revision(revision: int) -> int:
    return revision + 1 if revision else secrets.randbelow(FIRST_REVISIONS) + 1


def _encode(revision: int, session_json: bytes) -> bytes:
    return b'{"revision":%d,"session":%s}' % (revision, session_json)


def _revision(raw: bytes | None) -> int:
    match = _RECORD_PREFIX.match(raw) if raw is not None else None
    return int(match[1]) if match else 0


def _decode(raw: bytes | None) -> tuple[Session | None, int]:
    """The session (None when absent or no longer valid) and the stored revision. Never raises."""
    match = _RECORD_PREFIX.match(raw) if raw is not None else None
    if raw is None or match is None:
        return None, 0
    revision = int(match[1])
    if not raw.endswith(b"}"):
        return None, revision
    try:
        return Session.model_validate_json(raw[match.end() : -1]), revision
    except ValidationError:
        return None, revision


def _as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _as_text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _millis(duration: timedelta) -> int:
    ms = duration // timedelta(milliseconds=1)
    if ms <= 0:
        raise ValueError("a TTL must be at least one millisecond")
    return ms


def _positive(duration: timedelta) -> timedelta:
    _millis(duration)
    return duration


def _check(revision: int) -> None:
    if revision < 0:
        raise ValueError("revision must be >= 0")


class RedisClock:
    """Redis's clock (ms since the epoch), estimated: this process's monotonic clock set by the server's TIME, asked
    once and then every SERVER_TIME_FOR_S, so most estimates make no round trip. Off by at most half the round trip
    it was asked in (and the clocks' drift since)."""

    def __init__(self, execute: Execute) -> None:
        self._execute = execute
        self._offset_ms: float | None = None  # the server's clock less this process's monotonic one
        self._offset_at = 0.0

    async def now_ms(self) -> float:
        if self._offset_ms is None or time.monotonic() - self._offset_at > SERVER_TIME_FOR_S:
            before = time.monotonic()
            seconds, micros = await self._execute("TIME")
            after = time.monotonic()
            self._offset_ms = seconds * 1000 + micros / 1000 - (before + after) / 2 * 1000
            self._offset_at = after
        return self._offset_ms + time.monotonic() * 1000

    def forget(self) -> None:
        """Ask the server's clock again before the next estimate (the last one proved wrong)."""
        self._offset_ms = None


class RedisConversationStore(ConversationStore):
    """Load is one round trip (MGET), submit is one (EVALSHA), through the client's pool. Redis errors propagate;
    nothing is logged but a wrong estimate of Redis's clock.

    `execute`: what sends the commands every message sends (MGET, the commit's EVALSHA, and TIME now and then), with
    redis-py's `execute_command`'s replies and errors; the client's own by default (bench_webhooks.py measures
    another client through it)."""

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        ttl: timedelta = timedelta(days=30),
        dedupe_ttl: timedelta = DEDUPE_TTL,
        *,
        secret: bytes = DEFAULT_SECRET,
        processed_ttl: timedelta = PROCESSED_TTL,
        execute: Execute | None = None,
    ) -> None:
        self._redis = redis
        self.execute: Execute = execute or redis.execute_command
        self.redis_clock = RedisClock(self.execute)
        self.timeout_s: float | None = redis.connection_pool.connection_kwargs.get("socket_timeout")
        self._ttl_ms = _millis(ttl)
        self._dedupe_ttl_ms = _millis(dedupe_ttl)
        self._processed_ttl_ms = _millis(processed_ttl)
        self._secret = secret

    async def load(self, participant: str, message_id: str | None = None, *, provider: bool = False) -> Loaded:
        # The keys share the participant's hash tag, so MGET is one command even on Redis Cluster; but the processed
        # id has a hash tag of its own (it must not be the person's): with it, one Redis, not a Cluster.
        names = [keys.conversation(participant), keys.wrote(participant)]
        if message_id is not None:
            names.append(keys.seen(participant, message_id))
            if provider:
                names.append(keys.processed(self._secret, message_id))
        raw, wrote, *rest = await self.execute("MGET", *names)
        seen = rest[0] if rest else None
        processed = len(rest) > 1 and rest[1] is not None and seen is None
        session, revision = _decode(_as_bytes(raw))
        return Loaded(session, revision, _as_text(seen), processed, _wrote_at(wrote))

    async def submit(
        self,
        participant: str,
        revision: int,
        session: Session,
        *,
        outbox: str = "",
        message_id: str | None = None,
        provider: bool = False,
        wrote_at: datetime | None = None,
        queue: SendJob | None = None,
        then: Batch | None = None,
    ) -> Submitted:
        _check(revision)
        written, session_json = next_revision(revision), session.model_dump_json().encode()
        deadline, timeout_s = 0, self.timeout_s
        if timeout_s:
            deadline = int(await self.redis_clock.now_ms() + timeout_s * DEADLINE_SHARE * 1000)
        names = [keys.conversation(participant)]
        job = [part for pair in queue.fields().items() for part in pair] if queue and message_id is not None else []
        args: list[bytes | str | int] = [revision, _encode(written, session_json), self._ttl_ms, deadline, outbox]
        args += [self._dedupe_ttl_ms if message_id is not None else 0, self._processed_ttl_ms if provider else 0]
        args += [millis(wrote_at) if wrote_at is not None else 0, QUEUE_CAP if job else 0, len(job) // 2, *job]
        if message_id is not None:
            names.append(keys.seen(participant, message_id))
            if provider:
                names.append(keys.processed(self._secret, message_id))
        if wrote_at is not None:
            names.append(keys.wrote(participant))
        if job:
            names.append(keys.send_queue())
        carried_keys, carried = then.folded() if then else ([], [])
        sent_at = time.monotonic()
        reply: Any = await COMMIT.run(self.execute, [*names, *carried_keys], [*args, *carried])
        if reply[0] == 0:
            return Written(written, session_json)
        if reply[0] == 1:
            return Replayed(_as_text(reply[1]) or "")
        if reply[0] == 4:
            return Processed()
        if reply[0] == 3:
            if timeout_s and time.monotonic() - sent_at < timeout_s * DEADLINE_SHARE / 2:
                # It was not late by this process's clock: the estimate of the server's was off (its clock stepped).
                log.warning("redis clock estimate was off; learning it again")
                self.redis_clock.forget()
            raise RedisTimeoutError("the commit reached redis after its deadline; nothing was written")
        stored, stored_revision = _decode(_as_bytes(reply[1]))
        return Stale(Loaded(stored, stored_revision, None))

    async def enqueue(self, job: SendJob) -> None:
        await self._redis.xadd(keys.send_queue(), job.fields(), maxlen=QUEUE_CAP, approximate=True)  # type: ignore[arg-type]

    async def delivered(self, participant: str, message_id: str) -> int:
        raw = await self._redis.get(keys.delivered(participant, message_id))
        return int(raw) if raw else 0

    async def mark_delivered(self, participant: str, message_id: str, count: int) -> None:
        names = [keys.conversation(participant), keys.delivered(participant, message_id)]
        await _MARK_DELIVERED(self._redis, names, [count, self._dedupe_ttl_ms])

    async def delete(self, participant: str) -> None:
        batch: list[bytes | str] = []
        async for key in self._redis.scan_iter(match=keys.participant_pattern(participant), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    async def ping(self) -> bool:
        """True when Redis answers; False (not an exception) when it does not."""
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()


def _wrote_at(raw: bytes | str | None) -> datetime | None:
    return from_millis(int(raw)) if raw else None


@dataclass(frozen=True)
class _Entry:
    value: bytes
    expires_at: datetime


class MemoryConversationStore(ConversationStore):
    """The same contract in-process, keyed by the same key names. No await inside a method: each is atomic."""

    def __init__(
        self,
        ttl: timedelta = timedelta(days=30),
        dedupe_ttl: timedelta = DEDUPE_TTL,
        now: Callable[[], datetime] | None = None,
        *,
        secret: bytes = DEFAULT_SECRET,
        processed_ttl: timedelta = PROCESSED_TTL,
    ) -> None:
        self._ttl = _positive(ttl)
        self._dedupe_ttl = _positive(dedupe_ttl)
        self._processed_ttl = _positive(processed_ttl)
        self._secret = secret
        self._now = now or SystemClock().now
        self._entries: dict[str, _Entry] = {}
        self._sweep_above = 1024

    def _get(self, key: str, now: datetime) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry.expires_at:
            del self._entries[key]
            return None
        return entry.value

    def _sweep(self, now: datetime) -> None:
        # Amortised: expired entries nobody reads again are dropped once the map has doubled.
        if len(self._entries) > self._sweep_above:
            self._entries = {k: e for k, e in self._entries.items() if now < e.expires_at}
            self._sweep_above = max(1024, 2 * len(self._entries))

    async def load(self, participant: str, message_id: str | None = None, *, provider: bool = False) -> Loaded:
        now = self._now()
        session, revision = _decode(self._get(keys.conversation(participant), now))
        seen = None if message_id is None else self._get(keys.seen(participant, message_id), now)
        processed = message_id is not None and provider and seen is None and self._was_processed(message_id, now)
        return Loaded(session, revision, _as_text(seen), processed, _wrote_at(self._get(keys.wrote(participant), now)))

    def _was_processed(self, message_id: str, now: datetime) -> bool:
        return self._get(keys.processed(self._secret, message_id), now) is not None

    async def submit(
        self,
        participant: str,
        revision: int,
        session: Session,
        *,
        outbox: str = "",
        message_id: str | None = None,
        provider: bool = False,
        wrote_at: datetime | None = None,
        queue: SendJob | None = None,
        then: Batch | None = None,
    ) -> Submitted:
        """`queue` and `then` are not supported: in memory there is no worker and nothing to follow up."""
        if queue or then:
            raise ValueError("the in-memory store has no send queue and no follow-ups")
        _check(revision)
        now = self._now()
        if message_id is not None and (seen := self._get(keys.seen(participant, message_id), now)) is not None:
            return Replayed(seen.decode())
        if message_id is not None and provider and self._was_processed(message_id, now):
            return Processed()
        key = keys.conversation(participant)
        stored = self._get(key, now)
        if _revision(stored) != revision:
            return Stale(Loaded(*_decode(stored), None))
        written, session_json = next_revision(revision), session.model_dump_json().encode()
        self._entries[key] = _Entry(_encode(written, session_json), now + self._ttl)
        if wrote_at is not None:
            self._entries[keys.wrote(participant)] = _Entry(str(millis(wrote_at)).encode(), now + self._ttl)
        if message_id is not None:
            self._entries[keys.seen(participant, message_id)] = _Entry(outbox.encode(), now + self._dedupe_ttl)
            if provider:
                processed = keys.processed(self._secret, message_id)
                self._entries[processed] = _Entry(b"1", now + self._processed_ttl)
        self._sweep(now)
        return Written(written, session_json)

    async def enqueue(self, job: SendJob) -> None:
        raise ValueError("the in-memory store has no send queue")

    async def delivered(self, participant: str, message_id: str) -> int:
        raw = self._get(keys.delivered(participant, message_id), self._now())
        return int(raw) if raw else 0

    async def mark_delivered(self, participant: str, message_id: str, count: int) -> None:
        now = self._now()
        if self._get(keys.conversation(participant), now) is None:
            return
        self._entries[keys.delivered(participant, message_id)] = _Entry(str(count).encode(), now + self._dedupe_ttl)

    async def delete(self, participant: str) -> None:
        tag = keys.tag(participant)
        for key in [key for key in self._entries if tag in key]:
            del self._entries[key]

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
