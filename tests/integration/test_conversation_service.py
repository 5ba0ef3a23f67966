"""The conversation shell over a real redis-server, as several web processes share it: each process remembers the
conversations it handled (conversation.Recent), so a message is one round trip, and what it remembers is never
trusted over what is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio

from bot.content.loader import Content
from bot.shell.conversation import ConversationService, Handled, Recent
from bot.storage.conversations import Loaded, RedisConversationStore
from bot.triage.events import CommandReceived, Event, MessageReceived
from bot.triage.session import Session
from tests.conftest import FixedClock
from tests.redis_server import CountingConnection

pytestmark = pytest.mark.real_redis

PID = "sms-participant"
# The start of a self-care conversation, typed as on SMS: each answer moves to the next question.
ANSWERS = ["6", "4", "30", "4", "3"]


Scenario = Callable[[ConversationService, ConversationService, redis.asyncio.Redis], Awaitable[None]]


def run(redis_url: str, content: Content, clock: FixedClock, scenario: Scenario) -> None:
    """Two services ("processes") on one Redis, each with its own client and its own memory."""

    async def main() -> None:
        pool = redis.asyncio.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
        clients = [redis.asyncio.Redis.from_pool(pool), redis.asyncio.Redis.from_url(redis_url)]
        a, b = (ConversationService(content, RedisConversationStore(c), clock) for c in clients)
        try:
            await scenario(a, b, clients[0])
        finally:
            for service in (a, b):
                await service.store.aclose()  # and its client

    asyncio.run(main())


class Person:
    """Sends a person's messages with fresh message ids, as a provider numbers them."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, service: ConversationService, event: Event | str) -> Handled:
        self.sent += 1
        message = MessageReceived(event) if isinstance(event, str) else event
        return await service.handle(PID, message, message_id=f"m{self.sent}")


async def stored(service: ConversationService) -> Session:
    session = await service.session(PID)
    assert session is not None
    return session


def asked(handled: Handled) -> str | None:
    return handled.replies[-1].node


def test_a_remembered_conversation_costs_one_round_trip_a_message(
    redis_url: str, content: Content, clock: FixedClock
) -> None:
    async def scenario(a: ConversationService, _: ConversationService, client: redis.asyncio.Redis) -> None:
        person = Person()
        await person.send(a, CommandReceived("start"))
        await client.ping()  # the connections' handshakes are not counted below
        trips = []
        for answer in ANSWERS:
            CountingConnection.writes = 0
            await person.send(a, answer)
            trips.append(CountingConnection.writes)
        assert trips == [1] * len(ANSWERS)
        assert len((await stored(a)).answers) == len(ANSWERS)

    run(redis_url, content, clock, scenario)


def test_processes_taking_turns_see_every_answer(redis_url: str, content: Content, clock: FixedClock) -> None:
    """A answers, then B, then A again: A's memory is behind B's write, the store says so, and A's turn runs again
    on what is stored, so no answer is lost and each reply asks the next question."""

    async def scenario(a: ConversationService, b: ConversationService, _: redis.asyncio.Redis) -> None:
        person = Person()
        await person.send(a, CommandReceived("start"))
        nodes = []
        for i, answer in enumerate(ANSWERS):
            handled = await person.send((a, b)[i % 2], answer)
            nodes.append(asked(handled))
        session = await stored(b)
        assert len(session.answers) == len(ANSWERS)
        assert len(set(nodes)) == len(ANSWERS)  # always a new question, never the same one twice
        assert nodes[-1] == session.node

    run(redis_url, content, clock, scenario)


def test_a_conversation_deleted_elsewhere_is_not_brought_back(
    redis_url: str, content: Content, clock: FixedClock
) -> None:
    """A remembers two answers; the person deletes everything through B and starts again there, giving as many
    commits as A remembers. A's next message must continue the new conversation, never write the deleted one back."""

    async def scenario(a: ConversationService, b: ConversationService, _: redis.asyncio.Redis) -> None:
        person = Person()
        await person.send(a, CommandReceived("start"))
        for answer in ANSWERS[:2]:
            await person.send(a, answer)
        remembered = a.recent.get(PID)
        assert remembered is not None and len(remembered.session.answers) == 2  # type: ignore[union-attr]

        await person.send(b, CommandReceived("delete"))
        assert await b.session(PID) is None
        await person.send(b, CommandReceived("start"))
        await person.send(b, "6")
        await person.send(b, "5")  # another answer than A's, and as many commits as A's conversation had
        new = (await stored(b)).answers
        assert len(new) == 2 and new != remembered.session.answers  # type: ignore[union-attr]

        await person.send(a, "4")
        session = await stored(a)
        assert session.answers[:2] == new
        assert len(session.answers) == 3

    run(redis_url, content, clock, scenario)


def test_a_duplicate_of_a_remembered_conversation_is_replayed_and_changes_nothing(
    redis_url: str, content: Content, clock: FixedClock
) -> None:
    async def scenario(a: ConversationService, b: ConversationService, _: redis.asyncio.Redis) -> None:
        start = await a.handle(PID, CommandReceived("start"), message_id="m1")
        first = await a.handle(PID, MessageReceived("6"), message_id="m2")
        before = await stored(a)
        for service in (a, b):  # remembered (A) or not (B), the same replies and no change
            again = await service.handle(PID, MessageReceived("6"), message_id="m2")
            assert again.replayed and again.replies == first.replies
        assert await stored(a) == before
        assert not start.replayed and not first.replayed

    run(redis_url, content, clock, scenario)


def test_recent_forgets_the_oldest_and_the_expired() -> None:
    now = [0.0]
    recent = Recent(size=2, for_s=60, clock=lambda: now[0])
    at = FixedClock().now()
    session = Session(flow_id="knee", flow_version=1, node="q", started_at=at, updated_at=at)
    stored = session.model_dump_json().encode()
    recent.put("p1", stored, 10)
    recent.put("p2", stored, 20)
    assert recent.get("p1") == Loaded(session, 10, None)  # p1 is now the more recently used
    recent.put("p3", stored, 30)
    assert recent.get("p2") is None and len(recent) == 2  # the least recently used went first
    assert recent.get("p1") is not None and recent.get("p3") is not None
    now[0] = 61
    assert recent.get("p3") is None
    recent.put("p3", stored, 31)
    recent.drop("p3")
    assert recent.get("p3") is None
