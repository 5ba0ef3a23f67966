"""Check-in dispatch end to end (tests/dispatch.py, which bench/bench_dispatch.py runs at full size): 1,000 due
check-ins (500 Telegram, 500 SMS), three
`kneebot worker` processes sharing the Redis rate limiter, one killed with SIGKILL after about 250 messages, the fake
Telegram and Twilio APIs each in a process of its own. Nothing is lost, a duplicate can only come from the killed
worker's claims, and the limits hold. How close the workers keep to the limit is a speed figure: the report prints
it, and bench/bench_dispatch.py measures it (a timed assertion would fail on a busy machine, not on a regression).

One run (about 15 s) serves every test of the module; its report is printed (see it with `pytest -s` or on failure).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer

from bot.shell.checkin_job import CONCURRENCY
from tests.dispatch import IN_FLIGHT_S, Config, Result, print_result, run_dispatch

pytestmark = pytest.mark.real_redis

CHECKINS = 1000
RATE = 50.0  # TELEGRAM_RATE_PER_S and SMS_RATE_PER_S
KILL_AFTER = 250  # messages
CONFIG = Config(
    checkins=CHECKINS,
    workers=3,
    telegram_rate=RATE,
    sms_rate=RATE,
    lease="3s",
    kill_at=KILL_AFTER / CHECKINS,
    grace_s=1.0,
    timeout_s=120.0,
)


@pytest.fixture(scope="module")
def run(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Result]:
    redis_server.start()
    redis_server.flushall()
    log_dir: Path = tmp_path_factory.mktemp("dispatch")
    result = run_dispatch(CONFIG, redis_server.url, log_dir)
    print_result(result)
    yield result
    redis_server.flushall()


def test_the_schedule_empties_and_every_checkin_gets_its_message(run: Result) -> None:
    assert run.empty_at is not None, f"{run.remaining} check-ins left after {CONFIG.timeout_s} s"
    assert run.killed is not None and run.kill_after >= KILL_AFTER
    assert run.killed.proc.returncode == -9
    for channel in ("telegram", "sms"):
        assert run.lost(channel) == 0, f"{channel}: {run.lost(channel)} check-ins got no message"
        assert run.strangers(channel) == 0
        assert run.delivered(channel) >= CHECKINS // 2
    assert [w.log_counts()["errors"] for w in run.workers] == [0, 0, 0]


def test_duplicates_come_only_from_the_killed_workers_claims(run: Result) -> None:
    # A check-in is sent twice only when its worker died after the provider accepted the message and before it
    # recorded the message as sent; only the killed worker's claims in flight can be in that state.
    assert len(run.duplicates) <= CONCURRENCY, [(d.channel, d.first_worker) for d in run.duplicates]
    assert all(len(d.times) == 2 for d in run.duplicates)
    assert run.killed is not None
    for d in run.duplicates:
        assert d.first_worker in (run.killed.number, None), d
        kill_at = run.kill_at or math.inf
        assert d.times[0] <= kill_at + IN_FLIGHT_S and kill_at < d.times[1], d  # sent before the kill, again after


def test_the_shared_limiter_never_grants_more_than_the_limit(run: Result) -> None:
    for channel in ("telegram", "sms"):
        # Every message took a grant; a grant whose message never went (its worker was killed) is the only excess.
        # (A slot given back unused, when a retried check-in finds its message already sent, is not a grant here.)
        assert run.delivered(channel) <= len(run.grants[channel]) <= run.delivered(channel) + CONCURRENCY
        assert run.max_granted(channel) <= RATE, channel


def test_the_fakes_never_see_more_than_the_limit_in_any_second(run: Result) -> None:
    # What the provider counts, by its own arrival times. Telegram: per bot; Twilio: per sending number (one here).
    for channel in ("telegram", "sms"):
        seen = run.max_in_window(channel)
        assert seen <= RATE, f"{channel}: {seen} messages in one second"
