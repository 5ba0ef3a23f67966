"""Faults, end to end: the real server (uvicorn on loopback) and a real redis-server that is stopped or frozen, fake
Telegram and Twilio APIs that fail, stall or answer 429. The emergency reply depends on nothing but the provider; a
failed send is retried; nothing is sent twice; the person is told the clinic knows only when it does.

Each test prints the time from the person's message to the reply (see them with `pytest -s`): figures for the
report's fault table, never asserted (the machine is shared).
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis_server import RedisServer
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from bot.app.server import create_app
from tests.integration.conftest import SMS_PATH, TELEGRAM_PATH, settings_for, twilio_sid, wait_for
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import FakeTelegramAPI, message_update
from tests.integration.fakes.twilio_api import AUTH_TOKEN, FakeTwilioApi

pytestmark = pytest.mark.real_redis

SECRET = "faults-webhook-secret"
PUBLIC = "https://kneebot.example.org"
PHONE = "+14155550123"
CHAT = 990001
STAFF_CHAT = -1009990001
ONCALL = "+12125550101"
TOLD = "let the clinic team know"
RED_FLAG = "I can't breathe and my chest hurts"


@dataclass
class Faulty:
    url: str
    state: Any  # the server's App
    telegram: FakeTelegramAPI
    twilio: FakeTwilioApi
    redis: RedisServer

    def tg(self, update: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.url + TELEGRAM_PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=30
        )

    def sms(self, body: str, label: str, **fields: str) -> httpx.Response:
        form = {"From": PHONE, "To": "+15005550006", "Body": body, "MessageSid": twilio_sid(label), **fields}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
        return httpx.post(self.url + SMS_PATH, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)

    def texts(self, chat: int = CHAT) -> list[str]:
        return [m["text"] for m in self.telegram.sent(chat)]


@contextmanager
def faulty(redis_server: RedisServer, **overrides: Any) -> Iterator[Faulty]:
    redis_server.start()
    redis_server.flushall()
    telegram, twilio = FakeTelegramAPI(), FakeTwilioApi()
    with ServedApp(telegram.app) as tg_served, ServedApp(twilio.app) as tw_served:
        settings = settings_for(
            redis_url=redis_server.url,
            telegram_api=tg_served.url,
            twilio_api=tw_served.url,
            staff_telegram_chat_id=STAFF_CHAT,
            oncall_sms_numbers=ONCALL,
            telegram_webhook_secret=SecretStr(SECRET),
            **({"telegram_delivery_budget_s": 0.3} | overrides),
        )
        settings.check_for_server()
        try:
            app = create_app(settings)
            with ServedApp(app) as served:
                yield Faulty(served.url, app.state.kneebot, telegram, twilio, redis_server)
        finally:
            redis_server.resume_if_paused()
            redis_server.start()


@pytest.fixture
def stack(redis_server: RedisServer) -> Iterator[Faulty]:
    with faulty(redis_server) as served:
        yield served


def twiml(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return "\n".join(m.text or "" for m in ET.fromstring(response.text).iter("Message"))


def reply_time(started: float) -> str:
    return f"{time.monotonic() - started:.2f} s"


# --- Redis away ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_with_redis_away_a_telegram_red_flag_gets_the_emergency_reply_and_others_are_asked_to_retry(
    stack: Faulty, outage: str
) -> None:
    stack.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(stack.texts()) == 1)
    stack.redis.stop() if outage == "stopped" else stack.redis.pause()
    started = time.monotonic()
    assert stack.tg(message_update(2, CHAT, RED_FLAG)).status_code == 200
    wait_for(lambda: len(stack.texts()) == 2, timeout_s=15)
    print(f"\nredis {outage}: telegram emergency reply after {reply_time(started)}")
    emergency = stack.texts()[1]
    assert emergency.startswith("Call <b>911</b> now.")
    assert TOLD not in emergency  # no case could be stored, so none is promised
    assert stack.tg(message_update(3, CHAT, "the back of my knee aches")).status_code == 200
    wait_for(lambda: len(stack.texts()) == 3, timeout_s=15)
    assert "try again" in stack.texts()[2] and "911" in stack.texts()[2]


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_with_redis_away_an_sms_red_flag_does_not_say_the_clinic_was_told(stack: Faulty, outage: str) -> None:
    up = twiml(stack.sms(RED_FLAG, "first"))
    assert up.startswith("Call 911 now.") and TOLD in up  # with Redis: a case is stored, and the person told
    stack.redis.stop() if outage == "stopped" else stack.redis.pause()
    started = time.monotonic()
    down = twiml(stack.sms("I am coughing up blood", "second"))
    print(f"\nredis {outage}: sms emergency reply after {reply_time(started)}")
    assert down.startswith("Call 911 now.") and TOLD not in down


# --- the Bot API failing, stalling, refusing ---------------------------------------------------------------------


def test_without_a_worker_a_bot_api_slow_then_failing_loses_no_reply(stack: Faulty) -> None:
    stall = threading.Event()
    stack.telegram.chat(CHAT).hold = stall
    started = time.monotonic()
    assert stack.tg(message_update(1, CHAT, RED_FLAG)).status_code == 200  # answered within its budget
    wait_for(lambda: bool(stack.telegram.calls_to("sendMessage")))
    stack.telegram.chat(CHAT).fail_sends = {1}  # and then the stalled send fails
    stack.telegram.chat(CHAT).hold = None
    stall.set()
    wait_for(lambda: len(stack.texts()) == 1, timeout_s=15)
    print(f"\nbot api slow then failing: reply after {reply_time(started)} (stall included)")
    assert stack.texts()[0].startswith("Call <b>911</b> now.")
    assert len(stack.telegram.calls_to("sendMessage")) == 2  # the failed attempt and its retry


@pytest.mark.parametrize("failures", [1, 3])
def test_a_bot_api_failing_is_retried_with_backoff(stack: Faulty, failures: int) -> None:
    stack.telegram.chat(CHAT).fail_sends = set(range(1, failures + 1))
    started = time.monotonic()
    assert stack.tg(message_update(1, CHAT, RED_FLAG)).status_code == 200
    wait_for(lambda: len(stack.texts()) == 1, timeout_s=15)
    print(f"\nbot api failing {failures}x: reply after {reply_time(started)}")
    assert len(stack.telegram.calls_to("sendMessage")) == failures + 1


def test_flood_control_on_an_emergency_reply_is_waited_out(stack: Faulty) -> None:
    stack.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(stack.texts()) == 1)
    stack.telegram.chat(CHAT).flood_sends = {2: 1}  # 429, retry after 1 s
    started = time.monotonic()
    assert stack.tg(message_update(2, CHAT, RED_FLAG)).status_code == 200
    wait_for(lambda: len(stack.texts()) == 2, timeout_s=15)
    print(f"\nbot api 429 (retry after 1 s): reply after {reply_time(started)}")
    flooded, retried = stack.telegram.calls_to("sendMessage")[1:]
    assert (flooded.status, retried.status) == (429, 200)
    assert stack.texts()[1].startswith("Call <b>911</b> now.")


def test_a_bot_api_slower_than_5_s_sends_the_message_once(redis_server: RedisServer) -> None:
    """Telegram took the message but answers late: the send must not be given up at 5 s and the webhook answered
    500 (Telegram's retry would then send it again)."""
    with faulty(redis_server, telegram_delivery_budget_s=6.0) as stack:
        stall = threading.Event()
        stack.telegram.chat(CHAT).hold = stall
        for _ in range(3):  # Telegram retries a webhook answered with an error
            answered = stack.tg(message_update(1, CHAT, RED_FLAG))
            if answered.status_code == 200:
                break
        stall.set()  # the first send was slow, not lost
        wait_for(lambda: bool(stack.texts()))
        wait_for(lambda: not stack.state.tasks)  # every send the server started is over
        assert answered.status_code == 200
        assert len(stack.texts()) == 1


# --- Twilio's form --------------------------------------------------------------------------------------------


def test_a_message_sid_not_of_twilios_form_is_refused(stack: Faulty) -> None:
    form = {"From": PHONE, "To": "+15005550006", "Body": "hi", "MessageSid": "SM1"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
    response = httpx.post(stack.url + SMS_PATH, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert response.status_code == 400
    assert stack.sms("hi", "a", SmsMessageSid="SM" + "0" * 32).status_code == 400


def test_a_signed_request_with_a_parameter_renamed_into_the_message_sid_is_not_a_new_message(stack: Faulty) -> None:
    sid, service = twilio_sid("signed"), "MG" + "b" * 32
    signed = {"From": PHONE, "To": "+15005550006", "Body": RED_FLAG, "MessageSid": sid, "MessagingServiceSid": service}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, signed)
    headers = {"X-Twilio-Signature": signature}
    assert httpx.post(stack.url + SMS_PATH, data=signed, headers=headers, timeout=10).status_code == 200
    renamed = {k: v for k, v in signed.items() if k != "MessagingServiceSid"}
    renamed["MessageSid"] = sid + "MessagingServiceSid" + service
    assert RequestValidator(AUTH_TOKEN).validate(PUBLIC + SMS_PATH, renamed, signature)  # still signed
    assert httpx.post(stack.url + SMS_PATH, data=renamed, headers=headers, timeout=10).status_code == 400


@pytest.mark.parametrize("sender", ["not a number", "+999", "12345", "ABC-CLINIC"])
def test_a_sender_phonenumbers_cannot_read_is_refused(stack: Faulty, sender: str) -> None:
    form = {"From": sender, "To": "+15005550006", "Body": "hi", "MessageSid": twilio_sid(sender)}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
    response = httpx.post(stack.url + SMS_PATH, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert response.status_code == 400


# --- group chats ----------------------------------------------------------------------------------------------

GROUP = -1001112223334


@pytest.mark.parametrize("chat", [GROUP, STAFF_CHAT])
def test_a_red_flag_in_a_group_gets_the_emergency_reply(stack: Faulty, chat: int) -> None:
    assert stack.tg(message_update(1, chat, "my friend can't breathe", chat_type="supergroup")).status_code == 200
    wait_for(lambda: len(stack.texts(chat)) == 1)
    reply = stack.texts(chat)[0]
    assert reply.startswith("Call <b>911</b> now.") and TOLD not in reply  # no case for a group


def test_the_staff_groups_own_talk_is_left_alone_and_other_groups_are_asked_to_write_in_private(
    stack: Faulty,
) -> None:
    stack.tg(message_update(1, STAFF_CHAT, "who is on call tonight?", chat_type="supergroup"))
    stack.tg(message_update(2, GROUP, "hello bot", chat_type="group"))
    wait_for(lambda: len(stack.texts(GROUP)) == 1)
    assert "private" in stack.texts(GROUP)[0]
    wait_for(lambda: not stack.state.tasks)  # the staff group's message was answered by nothing at all
    assert stack.texts(STAFF_CHAT) == []
