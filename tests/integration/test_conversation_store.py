"""The ConversationStore contract, run against the Redis store (private server) and the in-process store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis_server import RedisServer

from bot.storage import keys
from bot.storage.audit import AuditLog
from bot.storage.checkins import Address, CheckIn, CheckInStore
from bot.storage.conversations import (
    DEFAULT_SECRET,
    FIRST_REVISIONS,
    ConversationStore,
    Loaded,
    MemoryConversationStore,
    Processed,
    RedisConversationStore,
    Replayed,
    Stale,
    Written,
    _Entry,
)
from bot.storage.scripts import Batch
from bot.triage.session import Session
from tests.redis_server import CountingConnection

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
SECRET = b"test-secret"
PHONE = "+14155550123"
PID = keys.participant_id(SECRET, "sms", PHONE)
OTHER = keys.participant_id(SECRET, "tg", "987654321")


def session(node: str = "q1", counter: int = 0) -> Session:
    return Session(flow_id="knee", flow_version=1, node=node, checkins_scheduled=counter, started_at=T0, updated_at=T0)


@dataclass
class Harness:
    store: ConversationStore
    write_raw: Callable[[str, bytes], Awaitable[None]]
    stored_keys: Callable[[], Awaitable[set[str]]]


Scenario = Callable[[Harness], Awaitable[None]]


class RedisBackend:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client

    def run(self, scenario: Scenario) -> None:
        client = self.client

        async def write_raw(key: str, value: bytes) -> None:
            await client.set(key, value)

        async def stored_keys() -> set[str]:
            return {key.decode() async for key in client.scan_iter(match="*")}

        async def main() -> None:
            store = RedisConversationStore(client)
            try:
                await scenario(Harness(store, write_raw, stored_keys))
            finally:
                await store.aclose()

        asyncio.run(main())


@dataclass
class MemoryBackend:
    now: datetime = T0
    store: MemoryConversationStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = MemoryConversationStore(now=lambda: self.now)

    def run(self, scenario: Scenario) -> None:
        entries = self.store._entries

        async def write_raw(key: str, value: bytes) -> None:
            entries[key] = _Entry(value, self.now + timedelta(days=1))

        async def stored_keys() -> set[str]:
            return set(entries)

        async def main() -> None:
            try:
                await scenario(Harness(self.store, write_raw, stored_keys))
            finally:
                await self.store.aclose()

        asyncio.run(main())


Backend = RedisBackend | MemoryBackend


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.real_redis), "memory"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "redis":
        return RedisBackend(request.getfixturevalue("redis_client"))
    return MemoryBackend()


def test_absent_conversation_loads_as_none_and_revision_zero(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        assert await h.store.load(PID) == Loaded(None, 0, None)
        assert await h.store.load(PID, "upd-1") == Loaded(None, 0, None)

    backend.run(scenario)


async def written(h: Harness, revision: int, s: Session, **kw: Any) -> int:
    submitted = await h.store.submit(PID, revision, s, **kw)
    assert isinstance(submitted, Written)
    assert Session.model_validate_json(submitted.session_json) == s  # what a caller keeps is what was stored
    return submitted.revision


def test_committed_session_round_trips_with_its_revision(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        first = await written(h, 0, session("q1"))
        assert 1 <= first <= FIRST_REVISIONS
        assert await h.store.load(PID) == Loaded(session("q1"), first, None)
        assert await written(h, first, session("q2")) == first + 1
        assert await h.store.load(PID) == Loaded(session("q2"), first + 1, None)
        assert await h.store.load(OTHER) == Loaded(None, 0, None)

    backend.run(scenario)


def test_a_new_record_starts_at_a_random_revision(backend: Backend) -> None:
    """Not at 1: a process remembering a deleted conversation must not take a new one for it (conversation.Recent)."""

    async def scenario(h: Harness) -> None:
        firsts = set()
        for _ in range(5):
            firsts.add(await written(h, 0, session()))
            await h.store.delete(PID)
        assert len(firsts) == 5

    backend.run(scenario)


def test_stale_revision_is_refused_changes_nothing_and_says_what_is_stored(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        first = await written(h, 0, session("q1"))
        current = Loaded(session("q1"), first, None)
        assert await h.store.submit(PID, 0, session("stale"), outbox="reply", message_id="upd-2") == Stale(current)
        assert await h.store.submit(PID, first + 5, session("ahead")) == Stale(current)
        assert not await h.store.commit(PID, first - 1, session("behind"))
        assert await h.store.load(PID, "upd-2") == current
        assert await h.store.submit(OTHER, 3, session("none")) == Stale(Loaded(None, 0, None))

    backend.run(scenario)


def test_a_processed_message_is_replayed_whatever_the_revision(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        first = await written(h, 0, session("q1"), outbox="one", message_id="upd-1")
        for revision in (0, first, first + 1):
            assert await h.store.submit(PID, revision, session("again"), message_id="upd-1") == Replayed("one")
        assert await h.store.load(PID) == Loaded(session("q1"), first, None)

    backend.run(scenario)


async def turn_of_the_loop() -> None:
    """One pass of the event loop: every task ready to run runs once before this one goes on."""
    loop = asyncio.get_running_loop()
    turned = loop.create_future()
    loop.call_soon(turned.set_result, None)
    await turned


def test_concurrent_read_modify_write_loops_lose_no_update(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        conflicts, revisions = 0, []

        async def increment_fifty_times() -> None:
            nonlocal conflicts
            for _ in range(50):
                while True:
                    loaded = await h.store.load(PID)
                    current = loaded.session or session()
                    await turn_of_the_loop()  # let the other writer in between this read and this write
                    bumped = current.model_copy(update={"checkins_scheduled": current.checkins_scheduled + 1})
                    submitted = await h.store.submit(PID, loaded.revision, bumped)
                    if isinstance(submitted, Written):
                        revisions.append(submitted.revision)
                        break
                    conflicts += 1

        await asyncio.gather(increment_fifty_times(), increment_fifty_times())
        final = await h.store.load(PID)
        assert final.session is not None
        assert final.session.checkins_scheduled == 100
        assert revisions == list(range(revisions[0], revisions[0] + 100))  # one after another, none skipped
        assert conflicts > 0  # the loops really did race

    backend.run(scenario)


def test_processed_message_replays_its_committed_outbox(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        first = await written(h, 0, session("q1"), outbox='["hello"]', message_id="upd-1")
        assert await h.store.load(PID, "upd-1") == Loaded(session("q1"), first, '["hello"]')
        assert (await h.store.load(PID, "upd-2")).replay is None
        assert (await h.store.load(OTHER, "upd-1")).replay is None
        assert (await h.store.load(PID)).replay is None
        # A message that produced no reply is still recognised as processed.
        assert await h.store.commit(PID, first, session("q2"), message_id="upd-3")
        assert (await h.store.load(PID, "upd-3")).replay == ""

    backend.run(scenario)


def test_delivery_progress_is_kept_per_message_and_deleted_with_the_participant(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        assert await h.store.commit(PID, 0, session(), outbox="x", message_id="upd-1")
        assert await h.store.delivered(PID, "upd-1") == 0
        await h.store.mark_delivered(PID, "upd-1", 1)
        await h.store.mark_delivered(PID, "upd-1", 2)
        assert await h.store.delivered(PID, "upd-1") == 2
        assert await h.store.delivered(PID, "upd-2") == 0
        assert await h.store.delivered(OTHER, "upd-1") == 0
        assert all("upd-1" not in key for key in await h.stored_keys())
        await h.store.delete(PID)
        assert await h.store.delivered(PID, "upd-1") == 0

    backend.run(scenario)


def test_nothing_is_recorded_as_sent_for_a_participant_whose_data_is_gone(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        assert await h.store.commit(PID, 0, session(), outbox="x", message_id="upd-1")
        await h.store.delete(PID)
        await h.store.mark_delivered(PID, "upd-1", 1)  # DELETE's own confirmation, sent after the deletion
        assert await h.stored_keys() == set()

    backend.run(scenario)


SID = "sms:SM0123456789abcdef0123456789abcdef"


def test_a_provider_message_is_known_after_a_delete_without_anything_of_the_person(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        written = await h.store.submit(PID, 0, session(), outbox="out", message_id=SID, provider=True)
        assert isinstance(written, Written)
        assert (await h.store.load(PID, SID, provider=True)).replay == "out"
        await h.store.delete(PID)
        # Only the keyed hash of the message id is left: no participant, no number, no message id in it.
        (left,) = await h.stored_keys()
        assert left == keys.processed(DEFAULT_SECRET, SID) and keys.tag(PID) not in left and SID[4:] not in left
        loaded = await h.store.load(PID, SID, provider=True)
        assert loaded.session is None and loaded.replay is None and loaded.processed
        # Replayed verbatim, it writes nothing: no conversation is started again.
        assert isinstance(await h.store.submit(PID, 0, session(), outbox="o", message_id=SID, provider=True), Processed)
        assert await h.stored_keys() == {left}
        # A new message, and a check-in's id (not the provider's), are no such thing.
        assert not (await h.store.load(PID, "sms:SM" + "f" * 32, provider=True)).processed
        assert isinstance(await h.store.submit(PID, 0, session(), message_id="checkin:1"), Written)
        assert await h.stored_keys() == {left, keys.conversation(PID), keys.seen(PID, "checkin:1")}

    backend.run(scenario)


def test_delete_removes_everything_of_the_participant_and_nothing_else(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        revision = {}
        for pid in (PID, OTHER):
            submitted = await h.store.submit(pid, 0, session(), outbox="out", message_id="upd-1")
            assert isinstance(submitted, Written)
            revision[pid] = submitted.revision
            await h.write_raw(keys.optout(pid), b"1")
            await h.write_raw(keys.checkin(pid, 1), b"due")
        before = await h.stored_keys()
        others = {key for key in before if keys.tag(OTHER) in key}
        assert len(others) == 4

        await h.store.delete(PID)

        assert await h.stored_keys() == others
        assert await h.store.load(PID, "upd-1") == Loaded(None, 0, None)
        assert await h.store.load(OTHER, "upd-1") == Loaded(session(), revision[OTHER], "out")
        assert await h.store.commit(PID, 0, session("again"))

    backend.run(scenario)


@pytest.mark.parametrize(
    ("raw", "revision"),
    [
        pytest.param(b"not json", 0, id="garbage"),
        pytest.param(b"\xff\xfe\x00", 0, id="not-utf8"),
        pytest.param(b'{"session":{},"revision":4}', 0, id="foreign-shape"),
        pytest.param(b'{"revision":7,"session":{"v":0,"state":"Q1"}}', 7, id="old-schema"),
        pytest.param(b'{"revision":3,"session":{"flow_id":"kn', 3, id="truncated"),
    ],
)
def test_unreadable_record_loads_as_absent_and_keeps_its_revision(backend: Backend, raw: bytes, revision: int) -> None:
    async def scenario(h: Harness) -> None:
        await h.write_raw(keys.conversation(PID), raw)
        assert await h.store.load(PID) == Loaded(None, revision, None)
        assert not await h.store.commit(PID, revision + 1, session())
        fresh = await written(h, revision, session("fresh"))
        assert fresh == revision + 1 if revision else fresh >= 1
        assert await h.store.load(PID) == Loaded(session("fresh"), fresh, None)

    backend.run(scenario)


def test_key_names_hold_no_raw_phone_number_or_message_id(backend: Backend) -> None:
    sid = "SM0123456789abcdef0123456789abcdef"

    async def scenario(h: Harness) -> None:
        assert await h.store.commit(PID, 0, session(), outbox="x", message_id=sid)
        stored = await h.stored_keys()
        assert stored == {keys.conversation(PID), keys.seen(PID, sid)}
        for key in stored:
            assert "4155550123" not in key
            assert sid not in key and sid[2:12] not in key

    backend.run(scenario)


def test_ping_answers(backend: Backend) -> None:
    async def scenario(h: Harness) -> None:
        assert await h.store.ping()

    backend.run(scenario)


# --- Redis only ---------------------------------------------------------------------------------------------


@pytest.mark.real_redis
def test_redis_sets_both_ttls_in_the_same_write(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with RedisConversationStore(redis_client) as store:  # closed with its client
            assert await store.commit(PID, 0, session(), outbox="x", message_id="upd-1")
            conversation_ms = await redis_client.pttl(keys.conversation(PID))
            seen_ms = await redis_client.pttl(keys.seen(PID, "upd-1"))
        day_ms = 86_400_000
        assert 30 * day_ms - 60_000 < conversation_ms <= 30 * day_ms
        assert 3 * day_ms - 60_000 < seen_ms <= 3 * day_ms

    asyncio.run(scenario())


@pytest.mark.real_redis
def test_redis_keeps_a_provider_message_id_at_least_7_days(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with RedisConversationStore(redis_client, secret=SECRET) as store:
            assert await store.commit(PID, 0, session(), message_id=SID) and not await redis_client.keys("*processed*")
            assert isinstance(await store.submit(OTHER, 0, session(), message_id=SID + "x", provider=True), Written)
            processed_ms = await redis_client.pttl(keys.processed(SECRET, SID + "x"))
        assert processed_ms > 7 * 86_400_000 - 60_000

    asyncio.run(scenario())


def test_redis_store_ping_is_false_when_nothing_answers() -> None:
    async def scenario() -> None:
        no_retry = Retry(NoBackoff(), retries=0)
        async with redis.asyncio.Redis(host="127.0.0.1", port=1, retry=no_retry) as gone:
            assert not await RedisConversationStore(gone).ping()

    asyncio.run(scenario())


@pytest.mark.real_redis
def test_redis_load_and_commit_are_one_round_trip_each(redis_url: str) -> None:
    async def scenario() -> None:
        pool = redis.asyncio.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
        async with redis.asyncio.Redis.from_pool(pool) as client, RedisConversationStore(client) as store:

            async def round_trips(action: Awaitable[object]) -> int:
                """Commands sent on the pool's connections."""
                CountingConnection.writes = 0
                await action
                return CountingConnection.writes

            await client.script_flush()  # warms the pool's connection, so its handshake is not counted below
            # The first commit after a restart or SCRIPT FLUSH meets NOSCRIPT and falls back to EVAL.
            assert await round_trips(store.commit(PID, 0, session())) == 2
            first = (await store.load(PID)).revision
            assert await round_trips(store.load(PID, "upd-1")) == 1
            assert await round_trips(store.load(PID)) == 1
            assert await round_trips(store.commit(PID, first, session("q2"), outbox="x", message_id="upd-1")) == 1
            assert await round_trips(store.commit(PID, first, session("stale"))) == 1  # and says what is stored
            assert await round_trips(store.commit(PID, 0, session("again"), message_id="upd-1")) == 1  # a replay
            assert await store.load(PID, "upd-1") == Loaded(session("q2"), first + 1, "x")

    asyncio.run(scenario())


@pytest.mark.real_redis
def test_what_a_turn_set_in_motion_is_written_with_it_and_only_if_it_is(redis_url: str) -> None:
    """The check-ins a turn schedules or cancels and its audit entries ride with the commit, in the same step: a
    stale or replayed commit writes none of them, and a written one all, in one round trip."""

    async def scenario() -> None:
        pool = redis.asyncio.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
        async with redis.asyncio.Redis.from_pool(pool) as client, RedisConversationStore(client) as store:
            checkins, audit = CheckInStore(client), AuditLog(client)

            def follow_ups(seq: int) -> Batch:
                batch = Batch()
                checkins.cancel_to(batch, PID, audit.args("checkins_cancelled", {"reason": "new_assessment"}, T0))
                checkin = CheckIn(
                    participant=PID,
                    seq=seq,
                    level="urgent",
                    address=Address(channel="sms", to=PHONE),
                    zone="America/New_York",
                    due_at=T0 + timedelta(hours=6),
                )
                checkins.add_to(batch, checkin, T0, audit.args("checkin_scheduled", {"seq": str(seq)}, T0))
                audit.add_to(batch, "assessment", {"level": "urgent"}, T0)
                return batch

            async def state() -> tuple[list[int], list[str]]:
                pending = [c.seq for c in await checkins.pending_for(PID)]
                return pending, [e["kind"] async for e in audit.export()]

            first = await written_to(store, 0, session("q1"), message_id="m1")
            assert await store.submit(PID, 0, session("stale"), message_id="m2", then=follow_ups(1)) == Stale(
                Loaded(session("q1"), first, None)
            )
            assert await store.submit(PID, first, session("again"), message_id="m1", then=follow_ups(1)) == Replayed("")
            assert await state() == ([], [])

            CountingConnection.writes = 0
            assert await store.submit(PID, first, session("q2"), message_id="m2", then=follow_ups(1)) == Written(
                first + 1, session("q2").model_dump_json().encode()
            )
            assert CountingConnection.writes == 1
            assert await state() == ([1], ["checkin_scheduled", "assessment"])  # nothing was pending to cancel

            await store.submit(PID, first + 1, session("q3"), message_id="m3", then=follow_ups(2))
            assert await state() == (
                [2],
                ["checkin_scheduled", "assessment", "checkins_cancelled", "checkin_scheduled", "assessment"],
            )

    asyncio.run(scenario())


async def written_to(store: RedisConversationStore, revision: int, s: Session, **kw: Any) -> int:
    submitted = await store.submit(PID, revision, s, **kw)
    assert isinstance(submitted, Written)
    return submitted.revision


# --- in-process only ----------------------------------------------------------------------------------------


def test_memory_records_expire_when_the_clock_passes_their_ttl() -> None:
    backend = MemoryBackend()

    async def scenario(h: Harness) -> None:
        first = await written(h, 0, session(), outbox="x", message_id="upd-1")
        backend.now = T0 + timedelta(days=3) - timedelta(milliseconds=1)
        assert await h.store.load(PID, "upd-1") == Loaded(session(), first, "x")
        backend.now = T0 + timedelta(days=3)
        assert await h.store.load(PID, "upd-1") == Loaded(session(), first, None)
        backend.now = T0 + timedelta(days=30)
        assert await h.store.load(PID) == Loaded(None, 0, None)
        # A commit after expiry starts over, and each commit sets the TTL afresh.
        again = await written(h, 0, session("q1"))
        backend.now = T0 + timedelta(days=59)
        assert await h.store.load(PID) == Loaded(session("q1"), again, None)

    backend.run(scenario)


# --- the commit's deadline on Redis's clock ----------------------------------------------------------------------


def test_a_commit_that_reaches_a_frozen_server_writes_nothing_when_it_wakes(redis_server: RedisServer) -> None:
    """The caller stops waiting after the client's timeout and tells the person to try again; a commit that Redis
    runs later (it was frozen, with the command in its socket) must not store the turn after all. Its deadline is
    three quarters of the timeout: by the time the caller has given up, it has passed."""

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url, socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
        async with RedisConversationStore(client) as store:
            first = await store.submit(PID, 0, session("q1"), message_id="m1")
            assert isinstance(first, Written)
            redis_server.pause()
            try:
                with pytest.raises(RedisTimeoutError):
                    await store.submit(PID, first.revision, session("q2"), message_id="m2")
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
            store.redis_clock._offset_ms -= 10_000  # type: ignore[operator]  # as if the server's clock stepped
            with pytest.raises(RedisTimeoutError):  # every deadline is in the past: nothing is written
                await store.submit(PID, first.revision, session("q2"), message_id="m2")
            assert (await store.load(PID)).session == session("q1")
            again = await store.submit(PID, first.revision, session("q2"), message_id="m2")
            assert isinstance(again, Written)  # the clock was asked again

    asyncio.run(main())
