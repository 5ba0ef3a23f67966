"""Telegram replies through the send queue: with a worker running, the webhook commits and answers at once (a button
press in its response), and the worker removes the pressed keyboard and sends the replies, exactly once. Urgent
replies never wait in the queue, and jobs of a worker that died (SIGKILL) are taken over within seconds: by another
reader, or by the web process itself while no worker runs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from bot.app.server import create_app
from bot.app.settings import Settings
from bot.app.wiring import Services, make_channels, redis_client
from bot.app.worker import Worker
from bot.clock import SystemClock
from bot.content.loader import load_content
from bot.storage import keys
from bot.storage.sendqueue import GROUP
from tests.conftest import ID_SECRET
from tests.integration.conftest import SECRET, TELEGRAM_PATH, settings_for, wait_for
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import (
    TOKEN,
    FakeTelegramAPI,
    callback_update,
    make_webhook_call,
    message_update,
)

CHAT, OTHER_CHAT = 880001, 880002
ROOT = Path(__file__).resolve().parents[2]
TAKEOVER_TIMEOUT_S = 15.0  # generous, for a loaded machine: the takeover itself takes a heartbeat's life and a second


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
        channels = make_channels(self.settings, content, per_process_limiter=False)
        await channels.start()
        services = Services.build(self.settings, content, client, SystemClock(), channels)
        worker = Worker(services)
        self.ready.set()
        try:
            await worker.run(self._stop)
        finally:
            await channels.stop()
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
    state: Any  # the server's App
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

    def workers(self) -> list[str]:
        now_ms = int(self.redis.time()[0]) * 1000
        return [n.decode() for n in self.redis.zrangebyscore(keys.senders(), now_ms, "+inf") if n.startswith(b"worker")]


@pytest.fixture
def queued(redis_url: str) -> Iterator[Queued]:
    telegram = FakeTelegramAPI()
    with ServedApp(telegram.app) as tg_served:
        settings = settings_for(redis_url=redis_url, telegram_api=tg_served.url)
        client = sync_redis.Redis.from_url(redis_url)
        app = create_app(settings)
        with ServedApp(app) as served:
            yield Queued(served.url, app.state.kneebot, telegram, tg_served.url, settings, client)
        client.close()


def wait_for_workers(stack: Queued) -> None:
    wait_for(lambda: bool(stack.workers()))
    wait_for(lambda: stack.state.workers_seen)  # the server's own answer to "is a worker running?"


def test_with_a_worker_replies_go_through_the_queue_and_buttons_are_answered(queued: Queued) -> None:
    with WorkerThread(queued.settings):
        wait_for_workers(queued)
        assert queued.tg(message_update(1, CHAT, "/start")).status_code == 200
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
        press = queued.tg(callback_update(2, CHAT, "emergency_signs:none", message_id=1))
        # The press is answered in the webhook's response (Telegram makes that call), not again by the worker.
        assert press.json() == {"method": "answerCallbackQuery", "callback_query_id": "cb2"}
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 2)
        assert "calf" in queued.telegram.sent(CHAT)[1]["text"]
        wait_for(lambda: bool(queued.telegram.calls_to("editMessageReplyMarkup")))
        assert queued.telegram.answered_callbacks == ["cb2"]
        # The queue is drained: every job acknowledged and deleted.
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
        assert queued.redis.xpending(keys.send_queue(), GROUP)["pending"] == 0


def test_with_a_worker_an_emergency_reply_is_sent_by_the_web_process_not_queued(queued: Queued) -> None:
    with WorkerThread(queued.settings):
        wait_for_workers(queued)
        queued.tg(message_update(1, CHAT, "/start"))
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
        added = queued.redis.xinfo_stream(keys.send_queue())["entries-added"]
        queued.tg(callback_update(2, CHAT, "emergency_signs:breathing", message_id=1))
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 2)
        assert queued.telegram.sent(CHAT)[1]["text"].startswith("Call <b>911</b> now.")
        assert queued.redis.xinfo_stream(keys.send_queue())["entries-added"] == added  # never in the queue


def test_a_repeated_update_sends_nothing_twice(queued: Queued) -> None:
    with WorkerThread(queued.settings):
        wait_for_workers(queued)
        queued.tg(message_update(1, CHAT, "/start"))
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
        for _ in range(3):
            assert queued.tg(message_update(2, CHAT, "none of these")).status_code == 200
        wait_for(lambda: len(queued.telegram.sent(CHAT)) >= 2)
        # A job leaves the queue once it is sent: with the queue empty and nothing pending, all was sent.
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
        assert queued.redis.xpending(keys.send_queue(), GROUP)["pending"] == 0
        texts = [m["text"] for m in queued.telegram.sent(CHAT)]
        assert len(texts) == 2 and "calf" in texts[1]


def test_a_job_a_dead_reader_took_is_sent_by_the_web_process_within_seconds(queued: Queued) -> None:
    """A worker read a job and died before sending it (it left no heartbeat): no worker starts again, and the web
    process, seeing none alive, takes the job over."""
    queued.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
    # A worker thought alive: the webhook queues its replies.
    queued.redis.zadd(keys.senders(), {"worker:ghost": int(queued.redis.time()[0]) * 1000 + 60_000})
    wait_for(lambda: queued.state.workers_seen)
    assert queued.tg(message_update(2, CHAT, "none of these")).status_code == 200
    wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 1)
    taken = queued.redis.xreadgroup(GROUP, "worker:ghost", {keys.send_queue(): ">"}, count=10)
    assert taken and len(taken[0][1]) == 1
    queued.redis.zrem(keys.senders(), "worker:ghost")  # it died: its heartbeat runs out
    started = time.monotonic()
    wait_for(lambda: len(queued.telegram.sent(CHAT)) == 2, timeout_s=TAKEOVER_TIMEOUT_S)
    print(f"\ndead reader's job sent {time.monotonic() - started:.1f} s after its heartbeat ran out")
    wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
    assert "calf" in queued.telegram.sent(CHAT)[1]["text"]
    assert len(queued.telegram.sent(CHAT)) == 2


def test_without_a_worker_the_web_process_sends_itself(queued: Queued) -> None:
    assert not queued.workers()
    queued.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1)
    assert queued.redis.xlen(keys.send_queue()) == 0


# --- a real `kneebot worker`, killed ----------------------------------------------------------------------------


def worker_process(settings: Settings) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in {n.upper() for n in Settings.model_fields}}
    env |= {
        "REDIS_URL": settings.redis_url or "",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": settings.telegram_api_base_url,
        "ID_HASH_SECRET": ID_SECRET,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )


def test_replies_queued_for_a_worker_killed_with_sigkill_go_out_within_seconds(queued: Queued) -> None:
    """Killed, a worker leaves its heartbeat for up to 3 s, and the web process's answer to "is a worker running?"
    lasts a second more: replies queued meanwhile are taken over by the web process; an emergency reply never waits
    in the queue at all."""
    worker = worker_process(queued.settings)
    try:
        wait_for(lambda: bool(queued.workers()), timeout_s=30)
        wait_for(lambda: queued.state.workers_seen)
        queued.tg(message_update(1, CHAT, "/start"))
        queued.tg(message_update(2, OTHER_CHAT, "/start"))
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 1 and len(queued.telegram.sent(OTHER_CHAT)) == 1)
        # Killed once idle: a worker killed between a send and its record may send that message again (as a check-in
        # can be: test_worker_dispatch.py); this is about replies queued after it died.
        wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed = time.monotonic()
        assert queued.workers()  # its heartbeat outlives it: the webhooks still queue for it
        queued.tg(message_update(3, CHAT, "none of these"))
        queued.tg(message_update(4, OTHER_CHAT, "I can't breathe"))
        wait_for(lambda: len(queued.telegram.sent(OTHER_CHAT)) == 2, timeout_s=TAKEOVER_TIMEOUT_S)
        emergency_s = time.monotonic() - killed
        wait_for(lambda: len(queued.telegram.sent(CHAT)) == 2, timeout_s=TAKEOVER_TIMEOUT_S)
        queued_s = time.monotonic() - killed
        print(f"\nafter SIGKILL: emergency reply {emergency_s:.1f} s, queued reply {queued_s:.1f} s")
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)
    assert queued.telegram.sent(OTHER_CHAT)[1]["text"].startswith("Call <b>911</b> now.")
    assert "calf" in queued.telegram.sent(CHAT)[1]["text"]
    wait_for(lambda: queued.redis.xlen(keys.send_queue()) == 0)
    wait_for(lambda: not queued.state.tasks)  # and the web process's own sends are over
    sent = {c: [m["text"][:40].replace("\n", " ") for m in queued.telegram.sent(c)] for c in (CHAT, OTHER_CHAT)}
    assert [len(sent[c]) for c in (CHAT, OTHER_CHAT)] == [2, 2], sent  # nothing twice
