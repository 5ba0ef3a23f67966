"""RedisRateLimiter against a private redis-server: grants, all-or-nothing, spacing, and limits across processes."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis.asyncio

from bot.storage import keys
from bot.storage.ratelimit import Grant, Limit, RedisRateLimiter
from tests.conftest import VirtualTime
from tests.processes import most_in_any_window

pytestmark = pytest.mark.real_redis

ROOT = Path(__file__).resolve().parents[2]

# One worker process: wait for the shared start, then take grants until the shared end; print their times.
WORKER = """
import asyncio, json, sys, time
import redis.asyncio
from bot.storage.ratelimit import Grant, Limit, RedisRateLimiter

async def main(url, name, duration):
    async with redis.asyncio.Redis.from_url(url) as client:
        limiter = RedisRateLimiter(client)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # every worker ready: go
        end = time.monotonic() + duration
        times = []

        async def hammer(token):
            while True:
                grant = await limiter.acquire([Limit("bot", 20)], token, timeout_s=end - time.monotonic())
                if not isinstance(grant, Grant):
                    break
                times.append(time.monotonic())
                await limiter.release(grant)

        await asyncio.gather(*(hammer(f"{name}-{i}") for i in range(2)))
        print(json.dumps(times))

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


def test_limit_is_validated() -> None:
    for count, per_s in [(0, 1.0), (1, 0.0), (1, -1.0), (1, float("nan"))]:
        with pytest.raises(ValueError):
            Limit("x", count, per_s)
    with pytest.raises(ValueError):
        Limit("{x}", 1)


def test_grants_count_times_then_hints_when_room_comes_back(redis_client: redis.asyncio.Redis) -> None:
    clock = VirtualTime()

    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client, time=clock)
            limit = Limit("t1", 3, per_s=0.2)
            grants = [await limiter.try_acquire([limit], "w") for _ in range(3)]
            assert all(isinstance(g, Grant) for g in grants)
            # All three are still in flight: room comes back no sooner than a whole window after a release.
            assert await limiter.try_acquire([limit], "w") == pytest.approx(0.2, abs=0.01)
            assert await redis_client.zcard(keys.ratelimit("t1")) == 3  # the refusal recorded nothing
            for grant in grants:
                assert isinstance(grant, Grant)
                await limiter.release(grant)
            hint = await limiter.try_acquire([limit], "w")
            assert hint == pytest.approx(0.2)  # a whole window from the releases
            clock.advance(hint / 2)
            shorter = await limiter.try_acquire([limit], "w")
            assert isinstance(shorter, float) and shorter == pytest.approx(hint / 2)  # still full; the hint shrinks
            clock.advance(shorter)
            assert isinstance(await limiter.try_acquire([limit], "w"), Grant)

    asyncio.run(scenario())


def test_a_grant_counts_while_in_flight_and_for_a_window_after_its_release(redis_client: redis.asyncio.Redis) -> None:
    clock = VirtualTime()

    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client, time=clock)
            limit = Limit("t2", 1, per_s=0.2)
            grant = await limiter.try_acquire([limit], "w")
            assert isinstance(grant, Grant)
            clock.advance(0.3)  # longer than the window, but the send is not over
            assert isinstance(await limiter.try_acquire([limit], "w"), float)
            await limiter.release(grant)
            clock.advance(0.199)
            assert isinstance(await limiter.try_acquire([limit], "w"), float)
            clock.advance(0.002)
            assert isinstance(await limiter.try_acquire([limit], "w"), Grant)

    asyncio.run(scenario())


def test_a_grant_never_released_is_held_only_for_the_hold_time(redis_client: redis.asyncio.Redis) -> None:
    clock = VirtualTime()

    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client, hold_s=0.3, time=clock)
            limit = Limit("t3", 1, per_s=0.1)
            assert isinstance(await limiter.try_acquire([limit], "dies"), Grant)  # its process dies: no release
            clock.advance(0.399)
            assert isinstance(await limiter.try_acquire([limit], "w"), float)
            clock.advance(0.002)  # hold + window = 0.4 s after the grant
            assert isinstance(await limiter.try_acquire([limit], "w"), Grant)

    asyncio.run(scenario())


def test_a_send_longer_than_the_hold_keeps_its_grant_held_and_releases_it_after(
    redis_client: redis.asyncio.Redis,
) -> None:
    clock, renewed = VirtualTime(), asyncio.Event()

    class Renewing(RedisRateLimiter):
        async def renew(self, grant: Grant) -> None:
            await super().renew(grant)
            renewed.set()

    async def scenario() -> None:
        async with redis_client:
            limiter = Renewing(redis_client, hold_s=0.3, time=clock)
            limit = Limit("slow", 1, per_s=0.1)
            grant = await limiter.try_acquire([limit], "w")
            assert isinstance(grant, Grant)
            async with limiter.holding(grant):
                for _ in range(10):  # a slow provider: a second, over three holds, renewed each 0.1 s
                    await clock.until_sleeping()
                    renewed.clear()
                    clock.advance(0.1)
                    await asyncio.wait_for(renewed.wait(), 10)
                assert isinstance(await limiter.try_acquire([limit], "w"), float)
            await limiter.renew(grant)  # a renewal landing after the release does not hold it again
            assert isinstance(await limiter.try_acquire([limit], "w"), float)  # counts for a window after release
            clock.advance(0.101)
            assert isinstance(await limiter.try_acquire([limit], "w"), Grant)

    asyncio.run(scenario())


def test_holding_releases_the_grant_when_the_send_fails(redis_client: redis.asyncio.Redis) -> None:
    clock = VirtualTime()

    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client, time=clock)  # a 3 s hold: only the release can free it so soon
            limit = Limit("fails", 1, per_s=0.1)
            grant = await limiter.try_acquire([limit], "w")
            assert isinstance(grant, Grant)
            with pytest.raises(RuntimeError):
                async with limiter.holding(grant):
                    raise RuntimeError("the provider refused")
            clock.advance(0.101)
            assert isinstance(await limiter.try_acquire([limit], "w"), Grant)

    asyncio.run(scenario())


def test_arrivals_never_exceed_the_limit_whatever_the_send_delays(redis_client: redis.asyncio.Redis) -> None:
    """What the provider counts: each message arrives at a random time between its grant and its release. A log
    scored at grant time lets these spill `count + 1` arrivals into one window; scoring at release does not."""
    count, window_s, duration_s = 5, 0.2, 2.0
    arrivals: list[float] = []

    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            limit = Limit("provider", count, per_s=window_s)
            rng = random.Random(7)
            end = time.monotonic() + duration_s

            async def sender() -> None:
                while time.monotonic() < end:
                    grant = await limiter.acquire([limit], "w", timeout_s=1.0)
                    if not isinstance(grant, Grant):
                        continue
                    await asyncio.sleep(rng.uniform(0, 0.06))  # scheduled late, then on the wire
                    arrivals.append(time.monotonic())
                    await asyncio.sleep(rng.uniform(0, 0.03))  # the provider's answer comes back
                    await limiter.release(grant)

            await asyncio.gather(*(sender() for _ in range(12)))

    asyncio.run(scenario())
    assert most_in_any_window(arrivals, window_s) <= count
    assert len(arrivals) >= 0.6 * count * duration_s / window_s  # the limit is used, not starved


def test_waiters_in_one_process_queue_for_the_shared_limit_instead_of_all_asking(
    redis_client: redis.asyncio.Redis,
) -> None:
    """Twenty callers held back by the same limit: only the first in line asks Redis, so attempts stay near one
    per grant (each caller asking on every freed slot made it about twenty), and every caller is served in turn."""
    attempts = 0

    class Counting(RedisRateLimiter):
        async def _attempt(self, limits: Sequence[Limit], token: str) -> tuple[Grant | float, int]:
            nonlocal attempts
            attempts += 1
            return await super()._attempt(limits, token)

    granted: list[str] = []

    async def scenario() -> None:
        async with redis_client:
            limiter = Counting(redis_client)
            limit = Limit("line", 10, per_s=0.2)

            async def caller(name: str) -> None:
                for _ in range(3):
                    grant = await limiter.acquire([limit], name, timeout_s=5.0)
                    assert isinstance(grant, Grant)
                    granted.append(name)
                    async with limiter.holding(grant):
                        pass  # the send

            await asyncio.gather(*(caller(f"c{i}") for i in range(20)))

    asyncio.run(scenario())
    assert len(granted) == 60
    assert attempts <= 2 * len(granted), attempts


def test_a_full_limit_records_nothing_in_the_others(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            bot, chat, other = Limit("bot", 5), Limit("chat:a", 1), Limit("chat:b", 1, per_s=3.0)
            assert isinstance(await limiter.try_acquire([bot, chat], "w"), Grant)
            assert isinstance(await limiter.try_acquire([other], "w"), Grant)
            assert isinstance(await limiter.try_acquire([bot, chat], "w"), float)
            assert await redis_client.zcard(keys.ratelimit("bot")) == 1
            # With two limits full, the hint is the longer wait.
            hint = await limiter.try_acquire([bot, chat, other], "w")
            assert isinstance(hint, float) and hint > 2.0
            assert await redis_client.zcard(keys.ratelimit("bot")) == 1
            for _ in range(4):
                assert isinstance(await limiter.try_acquire([bot], "w"), Grant)
            assert isinstance(await limiter.try_acquire([bot], "w"), float)

    asyncio.run(scenario())


def test_processes_together_stay_within_the_limit_and_near_it(redis_url: str) -> None:
    count, duration = 20, 3.0
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, f"p{i}", str(duration)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for worker in workers:  # each has imported and connected
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    start = time.monotonic()
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    end = start + duration
    times: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0
        times += json.loads(out)
    times.sort()
    assert times and start <= times[0] and times[-1] <= end + 0.25
    assert most_in_any_window(times, 1.0) <= count
    assert len(times) >= 0.9 * count * duration
    # After the first window's burst, the sustained rate: count / (1 s + the time from grant to release).
    sustained = (len(times) - count) / (times[-1] - times[0])
    assert 0.9 * count <= sustained <= count


def test_one_chat_waits_a_second_while_other_chats_proceed(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            bot = Limit("telegram", 30)

            async def send(chat: str) -> float:
                grant = await limiter.acquire([bot, Limit(f"telegram-chat:{chat}", 1)], "w", timeout_s=5)
                assert isinstance(grant, Grant)
                sent = time.monotonic()
                await limiter.release(grant)
                return sent

            first = await send("tg-a")
            second, *others = await asyncio.gather(send("tg-a"), *(send(f"tg-{n}") for n in range(5)))
            assert second - first >= 1.0
            assert max(others) - first < 0.5
            refused = await limiter.acquire([bot, Limit("telegram-chat:tg-a", 1)], "w", timeout_s=0.5)
            assert isinstance(refused, float) and refused > 0.5

    asyncio.run(scenario())


def test_keys_expire_and_hold_only_the_names_given(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client, hold_s=0.3)
            limits = [Limit("sms-from:opaque1", 2, per_s=0.2), Limit("telegram-chat:tg-abc", 1, per_s=0.2)]
            grant = await limiter.try_acquire(limits, "worker-7")
            assert isinstance(grant, Grant)
            names = {keys.ratelimit(limit.name) for limit in limits}
            assert {key.decode() async for key in redis_client.scan_iter()} == names
            for name in names:
                assert 0 < await redis_client.pttl(name) <= 500  # hold + window
                [member] = await redis_client.zrange(name, 0, -1)
                assert isinstance(member, bytes) and member.startswith(b"worker-7:")
            await limiter.release(grant)
            for name in names:  # Redis drops them within the hold and window of the grant, released or not
                assert 0 < await redis_client.pttl(name) <= 500

    asyncio.run(scenario())


def test_survives_a_script_flush(redis_client: redis.asyncio.Redis) -> None:
    async def scenario() -> None:
        async with redis_client:
            limiter = RedisRateLimiter(redis_client)
            first = await limiter.try_acquire([Limit("a", 2)], "w")
            assert isinstance(first, Grant)
            await redis_client.script_flush()
            await limiter.release(first)
            assert isinstance(await limiter.try_acquire([Limit("a", 2)], "w"), Grant)
            assert isinstance(await limiter.try_acquire([Limit("a", 2)], "w"), float)

    asyncio.run(scenario())
