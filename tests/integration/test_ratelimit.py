"""RedisRateLimiter against a private redis-server: grants, all-or-nothing, spacing, and limits across processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio

from bot.storage import keys
from bot.storage.ratelimit import Limit, RedisRateLimiter

pytestmark = pytest.mark.real_redis

ROOT = Path(__file__).resolve().parents[2]

# One worker process: wait for the shared start, then take grants until the shared end; print their times.
WORKER = """
import asyncio, json, sys, time
import redis.asyncio
from bot.storage.ratelimit import Limit, RedisRateLimiter

async def main(url, name, start, end):
    async with redis.asyncio.Redis.from_url(url) as client:
        limiter = RedisRateLimiter(client)
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        times = []

        async def hammer(token):
            while await limiter.acquire([Limit("bot", 20)], token, timeout_s=end - time.monotonic()):
                times.append(time.monotonic())

        await asyncio.gather(*(hammer(f"{name}-{i}") for i in range(2)))
        print(json.dumps(times))

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
"""


def most_in_any_window(times: list[float], window_s: float) -> int:
    """The largest number of times inside any half-open window [t, t + window_s)."""
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_limit_is_validated() -> None:
    for count, per_s in [(0, 1.0), (1, 0.0), (1, -1.0), (1, float("nan"))]:
        with pytest.raises(ValueError):
            Limit("x", count, per_s)
    with pytest.raises(ValueError):
        Limit("{x}", 1)


def test_grants_count_times_then_hints_when_room_comes_back(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            limit = Limit("t1", 3, per_s=0.2)  # window 0.21 s with the default margin
            assert [await limiter.try_acquire([limit], "w") for _ in range(3)] == [0.0, 0.0, 0.0]
            hint = await limiter.try_acquire([limit], "w")
            assert 0.1 < hint <= 0.21
            assert await redis_client.zcard(keys.ratelimit("t1")) == 3  # the refusal recorded nothing
            await asyncio.sleep(hint / 2)
            assert 0 < await limiter.try_acquire([limit], "w") < hint  # still full, and the hint shrinks
            await asyncio.sleep(hint / 2)
            assert await limiter.try_acquire([limit], "w") == 0.0

    asyncio.run(scenario())


def test_a_full_limit_records_nothing_in_the_others(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            bot, chat, other = Limit("bot", 5), Limit("chat:a", 1), Limit("chat:b", 1, per_s=3.0)
            assert await limiter.try_acquire([bot, chat], "w") == 0.0
            assert await limiter.try_acquire([other], "w") == 0.0
            assert await limiter.try_acquire([bot, chat], "w") > 0
            assert await redis_client.zcard(keys.ratelimit("bot")) == 1
            # With two limits full, the hint is the longer wait.
            assert await limiter.try_acquire([bot, chat, other], "w") > 2.0
            assert await redis_client.zcard(keys.ratelimit("bot")) == 1
            assert [await limiter.try_acquire([bot], "w") for _ in range(4)] == [0.0] * 4
            assert await limiter.try_acquire([bot], "w") > 0

    asyncio.run(scenario())


def test_processes_together_stay_within_the_limit_and_near_it(redis_url: str) -> None:
    count, duration = 20, 3.0
    start = time.monotonic() + 1.0  # time for the workers to import
    end = start + duration
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, f"p{i}", str(start), str(end)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    times: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0
        times += json.loads(out)
    times.sort()
    assert times and start <= times[0] and times[-1] <= end + 0.25
    assert most_in_any_window(times, 1.0) <= count
    assert len(times) >= 0.9 * count * duration
    # After the first window's burst, the sustained rate: count / 1.05 s by design, about 95% of the limit.
    sustained = (len(times) - count) / (times[-1] - times[0])
    assert 0.9 * count <= sustained <= count


def test_one_chat_waits_a_second_while_other_chats_proceed(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            bot = Limit("telegram", 30)

            async def send(chat: str) -> float:
                assert await limiter.acquire([bot, Limit(f"telegram-chat:{chat}", 1)], "w", timeout_s=5)
                return time.monotonic()

            first = await send("tg-a")
            second, *others = await asyncio.gather(send("tg-a"), *(send(f"tg-{n}") for n in range(5)))
            assert second - first >= 1.0
            assert max(others) - first < 0.5
            assert await limiter.acquire([bot, Limit("telegram-chat:tg-a", 1)], "w", timeout_s=0.5) is False

    asyncio.run(scenario())


def test_keys_expire_and_hold_only_the_names_given(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            limits = [Limit("sms-from:opaque1", 2, per_s=0.2), Limit("telegram-chat:tg-abc", 1, per_s=0.2)]
            assert await limiter.try_acquire(limits, "worker-7") == 0.0
            names = {keys.ratelimit(limit.name) for limit in limits}
            assert {key.decode() async for key in redis_client.scan_iter()} == names
            for name in names:
                assert 0 < await redis_client.pttl(name) <= 210
                [member] = await redis_client.zrange(name, 0, -1)
                assert isinstance(member, bytes) and member.startswith(b"worker-7:")
            await asyncio.sleep(0.25)
            assert await redis_client.exists(*names) == 0

    asyncio.run(scenario())


def test_survives_a_script_flush(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            assert await limiter.try_acquire([Limit("a", 2)], "w") == 0.0
            await redis_client.script_flush()
            assert await limiter.try_acquire([Limit("a", 2)], "w") == 0.0
            assert await limiter.try_acquire([Limit("a", 2)], "w") > 0

    asyncio.run(scenario())
