"""Redis memory per stored conversation and per pending check-in, written as the stores write them.

Into a private redis-server (no persistence), per repeat, after a FLUSHALL:
- conversations: 10,000 records as RedisConversationStore.commit writes them, each the session a real self-care
  assessment over SMS leaves (11 messages, 10 answers, the assessment; bench_dispatch.py's completed_session), under
  real participant ids (half `tg-...`, half `sms-...`);
- check-ins: 10,000 as CheckInStore.add writes them (the record, the person's index set, the schedule's zset entry),
  one per person, then again as a self-care assessment schedules them: two per person (5,000 people);
- a whole conversation as the webhooks leave it (--conversations of them): the SMS script through the conversation
  service with the Redis follow-up, so the record, one dedupe record per message (kept 3 days), two check-ins and
  the audit entries; grouped by key kind.
Per item: the sum of `MEMORY USAGE <key> SAMPLES 0` over the keys written, divided by the items (the zset's share:
its MEMORY USAGE / entries), and the INFO memory `used_memory` delta / items as a cross-check (it also counts the
keyspace's hash tables and the expires table, which MEMORY USAGE leaves out). Medians over --repeats.

Run: .venv/bin/python bench/bench_memory.py [--items 10000] [--conversations 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
from bot.app.settings import Settings  # noqa: E402
from bot.app.wiring import Services  # noqa: E402
from bot.channels.base import Channels  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.content.loader import Content, load_content  # noqa: E402
from bot.storage import keys  # noqa: E402
from bot.storage.checkins import Address, CheckIn, CheckInStore  # noqa: E402
from bot.storage.conversations import RedisConversationStore  # noqa: E402
from bot.triage.events import MessageReceived  # noqa: E402
from bot.triage.findings import Level  # noqa: E402
from bot.triage.session import Session  # noqa: E402
from tests.dispatch import ID_SECRET, SMS_SCRIPT, chat_id, completed_session, phone, print_machine  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

CONCURRENCY = 64


def person(i: int) -> tuple[str, Address]:
    """The i-th person: even ones on Telegram, odd ones on SMS, with the participant id the server would give."""
    if i % 2 == 0:
        address = Address(channel="telegram", to=str(chat_id(i // 2)))
        return keys.participant_id(ID_SECRET, "tg", address.to), address
    address = Address(channel="sms", to=phone(i // 2))
    return keys.participant_id(ID_SECRET, "sms", address.to), address


def kind(key: bytes) -> str:
    """`kneebot:v1:<kind>:...` -> kind."""
    parts = key.decode().split(":")
    return parts[2] if len(parts) > 2 else key.decode()


async def gather_limited(calls: list[Any]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Any) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(c) for c in calls))


def used_memory(sync: redis.Redis) -> int:
    return int(sync.info("memory")["used_memory"])


def usage_by_kind(sync: redis.Redis) -> tuple[dict[str, int], dict[str, int]]:
    """MEMORY USAGE (exact: SAMPLES 0) summed per key kind, and the number of keys of each kind."""
    names = list(sync.scan_iter(count=1000))
    total: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for start in range(0, len(names), 1000):
        chunk = names[start : start + 1000]
        pipe = sync.pipeline(transaction=False)
        for name in chunk:
            pipe.memory_usage(name, samples=0)
        for name, size in zip(chunk, pipe.execute(), strict=True):
            total[kind(name)] += int(size or 0)
            count[kind(name)] += 1
    return dict(total), dict(count)


@dataclass
class Measure:
    items: int
    usage: dict[str, int]  # MEMORY USAGE summed per key kind
    keys: dict[str, int]  # keys per kind
    used_delta: int  # INFO used_memory after - before
    encodings: dict[str, str]

    def per_item(self, kind: str | None = None) -> float:
        total = sum(self.usage.values()) if kind is None else self.usage.get(kind, 0)
        return total / self.items


def encodings(sync: redis.Redis) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in sync.scan_iter(count=1000):
        found.setdefault(kind(name), sync.object("encoding", name).decode())
    return found


def measure(sync: redis.Redis, items: int, write: Any) -> Measure:
    sync.flushall()
    before = used_memory(sync)
    asyncio.run(write())
    after = used_memory(sync)
    usage, count = usage_by_kind(sync)
    return Measure(items, usage, count, after - before, encodings(sync))


async def write_conversations(url: str, session: Session, items: int) -> None:
    client = redis.asyncio.Redis.from_url(url)
    store = RedisConversationStore(client)  # the default TTL (30 days), as the server's
    try:
        await gather_limited([store.commit(person(i)[0], 0, session) for i in range(items)])
    finally:
        await store.aclose()  # and the client


async def write_checkins(url: str, items: int, per_person: int) -> None:
    client = redis.asyncio.Redis.from_url(url)
    store = CheckInStore(client)
    now = datetime.now(UTC)
    calls = []
    for i in range(items):
        participant, address = person(i // per_person)
        seq = i % per_person + 1
        checkin = CheckIn(
            participant=participant,
            seq=seq,
            level=Level.self_care.value,
            address=address,
            locale="en",
            country="US",
            zone="America/New_York",
            due_at=now + timedelta(hours=48 if seq == 1 else 24 * 7, milliseconds=i),
        )
        calls.append(store.add(checkin, now))
    try:
        await gather_limited(calls)
    finally:
        await client.aclose()


async def write_whole(url: str, content: Content, conversations: int) -> None:
    """SMS conversations through the conversation service with the Redis follow-up, as the SMS webhook runs them."""
    settings = Settings(redis_url=url)
    client = redis.asyncio.Redis.from_url(url)
    services = Services.build(settings, content, client, SystemClock(), Channels())

    async def converse(i: int) -> None:
        number = phone(i)
        participant = keys.participant_id(ID_SECRET, "sms", number)
        address = Address(channel="sms", to=number)
        for n, text in enumerate(SMS_SCRIPT):
            sid = f"SM{i:016x}{n:016x}"
            await services.service.handle(
                participant, MessageReceived(text), message_id=sid, country="US", address=address
            )

    try:
        await gather_limited([converse(i) for i in range(conversations)])
    finally:
        await client.aclose()


def warm_up(url: str, content: Content, session: Session) -> None:
    """Load the Lua scripts and open the connection once, so the first measurement does not pay for them."""
    asyncio.run(write_conversations(url, session, 2))
    asyncio.run(write_checkins(url, 2, 1))
    asyncio.run(write_whole(url, content, 1))


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="conversations and check-ins written")
    parser.add_argument("--conversations", type=int, default=2000, help="whole SMS conversations (11 messages each)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine(sys.argv[1:], "bench_memory.py")
    content = load_content()
    session = asyncio.run(completed_session(content))
    record = b'{"revision":1,"session":' + session.model_dump_json().encode() + b"}"
    print(f"stored conversation: {len(session.answers)} answers, level {session.level}, record {len(record)} bytes")
    runs: dict[str, list[Measure]] = defaultdict(list)
    with RedisServer() as server:
        sync = redis.Redis.from_url(server.url)
        info = sync.info("server")
        config = sync.config_get("*-max-*-entries")
        print(
            f"redis-server {info['redis_version']} ({info.get('mem_allocator', sync.info('memory')['mem_allocator'])}),"
            f" {', '.join(f'{k} {v}' for k, v in sorted(config.items()))}"
        )
        warm_up(server.url, content, session)
        n, whole, url = args.items, args.conversations, server.url
        for _ in range(args.repeats):
            runs["conversations"].append(measure(sync, n, lambda: write_conversations(url, session, n)))
            runs["check-ins, 1 per person"].append(measure(sync, n, lambda: write_checkins(url, n, 1)))
            runs["check-ins, 2 per person"].append(measure(sync, n, lambda: write_checkins(url, n, 2)))
            runs["whole SMS conversation"].append(measure(sync, whole, lambda: write_whole(url, content, whole)))
        sync.close()
    print(f"\nbytes per item, medians over {args.repeats} repeats (MEMORY USAGE SAMPLES 0; used_memory delta)")
    for name, measures in runs.items():
        items = measures[0].items
        print(f"  {name} ({items} items)")
        kinds = sorted({k for m in measures for k in m.usage})
        for k in kinds:
            per = median([m.per_item(k) for m in measures])
            count = median([m.keys.get(k, 0) for m in measures])
            per_key = median([m.usage.get(k, 0) / max(1, m.keys.get(k, 0)) for m in measures])
            print(
                f"    {k:<15}{per:>8.0f} B per item  ({count:.0f} keys, {per_key:.0f} B per key, "
                f"{measures[0].encodings.get(k, '?')})"
            )
        total = median([m.per_item() for m in measures])
        delta = median([m.used_delta / m.items for m in measures])
        spread = [round(m.per_item()) for m in measures]
        print(f"    {'MEMORY USAGE':<15}{total:>8.0f} B per item  (per repeat: {spread})")
        print(f"    {'used_memory':<15}{delta:>8.0f} B per item  (delta / items)")


if __name__ == "__main__":
    main()
