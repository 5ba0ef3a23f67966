"""Telegram replies through the send queue: with a worker running, the webhook commits and answers at once (a button
press in its response), and the worker removes the pressed keyboard and sends the replies, exactly once, taking over
jobs a dead worker left behind."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis as sync_redis
from pydantic import SecretStr

from bot.app.server import TELEGRAM_PATH, WORKERS_CHECK_S, create_app
from bot.app.settings import Settings
from bot.app.wiring import Services, make_channels, redis_client
from bot.app.worker import GROUP, Worker
from bot.clock import SystemClock
from bot.content.loader import load_content
from bot.storage import keys
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import (
    TOKEN,
    FakeTelegramAPI,
    callback_update,
    make_webhook_call,
    message_update,
)
from tests.integration.test_server import SECRET, wait_for

CHAT = 880001


class WorkerThread:
    """A real Worker on its own event loop in a thread; `stop()` ends it as SIGTERM would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        content = load_content()
        client = redis_client(self.settings.redis_url or "", timeout_s=5.0)
        telegram, sms = make_channels(self.settings, content, per_process_limiter=False)
        assert telegram is not None
        await telegram.start()
        services = Services.build(self.settings, content, client, SystemClock())
        worker = Worker(services, telegram=telegram, sms=sms)
        self.ready.set()
        try:
            await worker.run(self._stop)
        finally:
            await telegram.stop()
            await services.aclose()

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@dataclass
class Queued:
    url: str
    telegram: FakeTelegramAPI
    telegram_url: str
    settings: Settings
    redis: sync_redis.Redis

    def tg(self, update: dict[str, Any]) -> httpx.Response:
        """Deliver an update as Telegram does, making the call the webhook's response names, if any."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        response = httpx.post(self.url + TELEGRAM_PATH, json=update, headers=headers, timeout=10)
        make_webhook_call(self.telegram_url, response)
        return response


@pytest.fixture
def queued(redis_url: str) -> Iterator[Queued]:
    telegram = FakeTelegramAPI()
    with ServedApp(telegram.app) as tg_served:
        settings = Settings(
            redis_url=redis_url,
            telegram_bot_token=SecretStr(TOKEN),
            telegram_webhook_secret=SecretStr(SECRET),
            telegram_api_base_url=tg_served.url + "/bot",
            checkin_lease="1s",
        )
        client = sync_redis.Redis.from_url(redis_url)
        with ServedApp(create_app(settings)) as served:
            yield Queued(served.url, telegram, tg_served.url, settings, client)
        client.close()


def wait_for_workers(stack: Queued) -> None:
    wait_for(lambda: bool(stack.redis.exists(keys.workers_alive())))
    time.sleep(WORKERS_CHECK_S + 0.1)  # the server's cached answer to "is a worker running?"


def test_with_a_worker_replies_go_through_the_queue_and_buttons_are_answered(queued: Queued) -> None:
    with WorkerThread(queued.settings):
        wait_for_workers(queued)
        assert queued.tg(message_update(1, CHAT, "/start")).status_code == 200
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
        press = queued.tg(callback_update(2, CHAT, "emergency_signs:breathing", message_id=1))
        # The press is answered in the webhook's response (Telegram makes that call), not again by the worker.
        assert press.json() == {"method": "answerCallbackQuery", "callback_query_id": "cb2"}
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 2)
        assert queued.telegram.sent(CHAT)[1]["text"].startswith("Call <b>911</b> now.")
        wait_for(lambda: bool(queued.telegram.calls_to("editMessageReplyMarkup")))
        assert queued.telegram.answered_callbacks == ["cb2"]
        # The queue is drained: every job acknowledged and deleted.
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
        assert queued.redis.xpending(keys.send_queue(), GROUP)["pending"] == 0


def test_a_repeated_update_sends_nothing_twice(queued: Queued) -> None:
    with WorkerThread(queued.settings):
        wait_for_workers(queued)
        queued.tg(message_update(1, CHAT, "/start"))
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
        for _ in range(3):
            assert queued.tg(message_update(2, CHAT, "none of these")).status_code == 200
        wait_for(lambda: len(queued.telegram.sent(CHAT)) >= 2)
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
        time.sleep(0.3)
        texts = [m["text"] for m in queued.telegram.sent(CHAT)]
        assert len(texts) == 2 and "calf" in texts[1]


def test_a_job_left_by_a_dead_worker_is_taken_over_after_the_lease(queued: Queued) -> None:
    with WorkerThread(queued.settings):
        wait_for_workers(queued)
        queued.tg(message_update(1, CHAT, "/start"))
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
    # No worker now, but the server's cached "alive" answer and the heartbeat's expiry leave a window in which a job
    # is still queued: make one, and have a "worker" read it and die before sending.
    queued.redis.set(keys.workers_alive(), "someone", px=5000)
    time.sleep(WORKERS_CHECK_S + 0.1)
    assert queued.tg(message_update(2, CHAT, "none of these")).status_code == 200
    wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 1)
    taken = queued.redis.xreadgroup(GROUP, "dead-worker", {keys.send_queue(): ">"}, count=10)
    assert taken and len(taken[0][1]) == 1
    assert len(queued.telegram.sent(CHAT)) == 1
    with WorkerThread(queued.settings):  # a new worker takes it over once the 1 s lease has passed
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 2, timeout_s=10)
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
    assert "calf" in queued.telegram.sent(CHAT)[1]["text"]


def test_without_a_worker_the_web_process_sends_itself(queued: Queued) -> None:
    assert not queued.redis.exists(keys.workers_alive())
    queued.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
    assert queued.redis.xlen(keys.send_queue()) == 0
