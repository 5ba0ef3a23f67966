"""One inbound message through screen + advance + store commit against a real, private redis-server.

Prints the median and p99 per message and the Redis round trips per message, beside a floor measured in the same
run: the bare Redis work of an inbound message with no memory of its conversation (one MGET, one EVALSHA
check-and-set of a same-size record). The service remembers the conversations it committed, so its messages after the
first need only the EVALSHA.
Run: .venv/bin/python bench/bench_message.py [--conversations 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from redis_server import CountingConnection, RedisServer  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.content.loader import load_content  # noqa: E402
from bot.shell.conversation import ConversationService  # noqa: E402
from bot.storage.conversations import RedisConversationStore  # noqa: E402
from bot.triage.events import CommandReceived, MessageReceived  # noqa: E402

# A self-care conversation, answered the way a person types on SMS.
ANSWERS = ["5", "2", "4", "3", "4", "4", "1 week", "1", "3", "30"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, conversations: int) -> dict[str, Any]:
    pool = redis.asyncio.ConnectionPool.from_url(url, connection_class=CountingConnection)
    client = redis.asyncio.Redis.from_pool(pool)
    store = RedisConversationStore(client)
    service = ConversationService(load_content(), store, SystemClock())
    per_message: list[float] = []
    trips: list[int] = []
    floor: list[float] = []
    record = b"x" * 1200
    script = "if redis.call('GET', KEYS[1]) == false or true then redis.call('SET', KEYS[1], ARGV[1], 'PX', 60000) end"
    sha = await client.script_load(script)
    for n in range(conversations):
        pid = f"bench-{n}"
        await service.handle(pid, CommandReceived("restart"), message_id=f"{pid}:0")
        for i, answer in enumerate(ANSWERS, start=1):
            CountingConnection.writes = 0
            start = time.perf_counter()
            await service.handle(pid, MessageReceived(answer), message_id=f"{pid}:{i}")
            per_message.append(time.perf_counter() - start)
            trips.append(CountingConnection.writes)  # every command goes through the pool
            start = time.perf_counter()
            await client.mget(f"floor:{{{pid}}}", f"floor:{{{pid}}}:seen")
            await client.evalsha(sha, 1, f"floor:{{{pid}}}", record)
            floor.append(time.perf_counter() - start)
    await store.aclose()  # and the client
    return {"message": per_message, "trips": trips, "floor": floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=300)
    args = parser.parse_args()
    with RedisServer() as server:
        result = asyncio.run(run(server.url, args.conversations))
    ms = [v * 1000 for v in result["message"]]
    floor = [v * 1000 for v in result["floor"]]
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: .venv/bin/python bench/bench_message.py --conversations {args.conversations}")
    print(f"messages: {len(ms)} ({args.conversations} conversations x {len(ANSWERS)} answers)")
    print(f"per message   median {statistics.median(ms):.3f} ms   p99 {pct(ms, 0.99):.3f} ms")
    print(f"redis floor   median {statistics.median(floor):.3f} ms   p99 {pct(floor, 0.99):.3f} ms")
    print(f"round trips per message: max {max(result['trips'])}, median {statistics.median(result['trips']):g}")


if __name__ == "__main__":
    main()
