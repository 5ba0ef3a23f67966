"""The real server (uvicorn on loopback) with a real redis-server, the fake Telegram Bot API and the fake Twilio API."""

from __future__ import annotations

import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from clinical import VIGNETTES
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from bot.app.logs import configure_logging
from bot.app.server import create_app
from bot.app.simulate import persona_answer
from bot.channels.telegram import TelegramChannel, parse_update
from bot.content.loader import load_content
from bot.storage import keys
from bot.triage.effects import MORE_NODE
from bot.triage.findings import Findings
from bot.triage.flow import FlowDefinition
from tests.conftest import ID_SECRET
from tests.integration.conftest import SECRET, SMS_PATH, TELEGRAM_PATH, Fakes, settings_for, twilio_sid, wait_for
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import TOKEN, FakeTelegramAPI, callback_update, message_update
from tests.integration.fakes.twilio_api import AUTH_TOKEN, FakeTwilioApi

PUBLIC = "https://kneebot.example.org"
PHONE = "+14155550123"
CHAT = 777001


@dataclass
class Stack:
    url: str
    state: Any  # the server's App
    telegram: FakeTelegramAPI
    twilio: FakeTwilioApi
    redis: Any

    def tg(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return httpx.post(self.url + TELEGRAM_PATH, json=update, headers=headers, timeout=10)

    def sms(self, body: str, sid: str, sender: str = PHONE, signature: str | None = "") -> httpx.Response:
        """`sid`: a label for the message; the same label is the same MessageSid (of Twilio's form)."""
        form = {"From": sender, "To": "+15005550006", "Body": body, "MessageSid": twilio_sid(sid), "NumMedia": "0"}
        if signature == "":
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        return httpx.post(self.url + SMS_PATH, data=form, headers=headers, timeout=10)


def messages(response: httpx.Response) -> list[str]:
    return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]


@pytest.fixture
def stack(redis_url: str, redis_server: Any, fakes: Fakes) -> Iterator[Stack]:
    settings = fakes.settings(redis_url, telegram_delivery_budget_s=0.3)
    settings.check_for_server()
    app = create_app(settings)
    with ServedApp(app) as served:
        yield Stack(served.url, app.state.kneebot, fakes.telegram, fakes.twilio, redis_server)


def test_telegram_conversation_with_buttons(stack: Stack) -> None:
    assert stack.tg(message_update(1, CHAT, "/start")).status_code == 200
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 1)
    first = stack.telegram.sent(CHAT)[0]
    buttons = [row[0]["callback_data"] for row in first["reply_markup"]["inline_keyboard"]]
    assert buttons[0] == "emergency_signs:breathing"
    stack.tg(callback_update(2, CHAT, "emergency_signs:breathing", message_id=1))
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 2)
    outcome = stack.telegram.sent(CHAT)[1]
    assert "911" in outcome["text"] and outcome["text"].startswith("Call")
    wait_for(lambda: stack.telegram.answered_callbacks == ["cb2"])
    assert stack.telegram.calls_to("editMessageReplyMarkup")


@pytest.mark.parametrize("secret", [None, "wrong", ""])
def test_telegram_webhook_refuses_a_missing_or_forged_secret(stack: Stack, secret: str | None) -> None:
    assert stack.tg(message_update(1, CHAT, "/start"), secret=secret).status_code == 403
    assert stack.telegram.sent() == []


def test_telegram_duplicate_update_changes_state_once_and_replies_once(stack: Stack) -> None:
    stack.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 1)
    for _ in range(2):
        assert stack.tg(message_update(2, CHAT, "none of these")).status_code == 200
    wait_for(lambda: len(stack.telegram.sent(CHAT)) >= 2)
    stack.tg(message_update(3, CHAT, "no"))
    wait_for(lambda: len(stack.telegram.sent(CHAT)) >= 3)
    texts = [m["text"] for m in stack.telegram.sent(CHAT)]
    assert len(texts) == 3  # the duplicate sent nothing
    assert "calf" in texts[1] and "How old" in texts[2]  # and the state moved once


def test_telegram_a_failed_send_is_retried_and_sends_only_what_was_not_sent(stack: Stack) -> None:
    stack.tg(message_update(1, CHAT, "/start"))
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 1)
    stack.telegram.chat(CHAT).fail_sends = {3}  # the help text goes out, the repeated question fails
    # The web process retries the failed send itself (Telegram would retry only a failed webhook, and later).
    assert stack.tg(message_update(2, CHAT, "/help")).status_code == 200
    # The chat's burst allowance (3 messages, then 1/s) may hold the resend past the webhook's budget: it still goes.
    wait_for(lambda: len(stack.telegram.sent(CHAT)) >= 3)
    wait_for(lambda: not stack.state.tasks)  # the retried send is over: nothing more will go
    texts = [m["text"] for m in stack.telegram.sent(CHAT)]
    assert len(texts) == 3
    assert "Tap your answer" in texts[1] and "safety check" in texts[2]
    assert len(stack.telegram.calls_to("sendMessage")) == 4  # one failed attempt, retried once


def test_telegram_webhook_answers_while_its_send_is_still_waiting_for_telegram(stack: Stack) -> None:
    stall = threading.Event()
    stack.telegram.chat(CHAT).hold = stall  # Telegram takes the message and does not answer yet
    try:
        assert stack.tg(message_update(1, CHAT, "/start")).status_code == 200  # answered after its budget
        assert stack.telegram.sent(CHAT) == [] and stack.state.tasks  # the send still waits for its answer
    finally:
        stall.set()
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 1)


def test_telegram_photo_gets_a_polite_reply(stack: Stack) -> None:
    stack.tg(message_update(1, CHAT, None, photo=[{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]))
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 1)
    assert "only read text" in stack.telegram.sent(CHAT)[0]["text"]


def test_sms_conversation_in_twiml(stack: Stack) -> None:
    first = stack.sms("hi", "SM1")
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/xml")
    assert "Reply with a number" in "".join(messages(first))
    outcome = messages(stack.sms("1", "SM2"))
    assert outcome[0].startswith("Call 911 now.")


def test_sms_uses_the_senders_country_for_the_emergency_number(stack: Stack) -> None:
    reply = messages(stack.sms("I can't breathe", "SM1", sender="+442071838750"))
    assert reply[0].startswith("Call 999 now.")


@pytest.mark.parametrize("signature", [None, "AAAA", "bm90IGEgc2lnbmF0dXJl"])
def test_sms_refuses_a_missing_or_forged_signature(stack: Stack, signature: str | None) -> None:
    assert stack.sms("hi", "SM1", signature=signature).status_code == 403


def test_sms_duplicate_gets_the_same_twiml_and_changes_state_once(stack: Stack) -> None:
    stack.sms("hi", "SM1")
    a, b = stack.sms("6", "SM2"), stack.sms("6", "SM2")
    assert a.text == b.text
    third = messages(stack.sms("4", "SM3"))
    assert "How old" in "".join(third)


def test_sms_stop_confirms_with_the_emergency_number(stack: Stack) -> None:
    stack.sms("hi", "SM1")
    assert "911" in "".join(messages(stack.sms("STOP", "SM2")))


def test_ten_concurrent_messages_from_one_person_lose_no_answer(stack: Stack) -> None:
    stack.sms("hi", "SM0")
    # Ten questions follow when every answer is "not sure"; all ten arrive at once.
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda i: stack.sms("not sure", f"SMB{i}"), range(10)))
    assert all(r.status_code == 200 for r in replies)
    outcome = [r for r in replies if "not sure about one of the warning signs" in r.text]
    assert len(outcome) == 1


def test_health_and_metrics(stack: Stack) -> None:
    assert httpx.get(stack.url + "/healthz").json() == {"ok": True, "store": "up"}
    stack.sms("hi", "SM1")
    stack.sms("1", "SM2")
    text = httpx.get(stack.url + "/metrics").text
    assert 'kneebot_messages_in_total{channel="sms"} 2.0' in text
    assert 'kneebot_assessments_total{level="emergency"} 1.0' in text
    assert "kneebot_handling_seconds_bucket" in text


def test_redis_down_red_flags_still_answered_and_others_asked_to_retry(stack: Stack) -> None:
    stack.sms("hi", "SM1")
    stack.redis.stop()
    try:
        assert httpx.get(stack.url + "/healthz", timeout=10).status_code == 503
        emergency = messages(stack.sms("my chest hurts and I can't breathe", "SM2"))
        assert emergency[0].startswith("Call 911 now.")
        other = "".join(messages(stack.sms("6", "SM3")))
        assert "try again" in other and "911" in other
    finally:
        stack.redis.start()
    assert httpx.get(stack.url + "/healthz", timeout=10).status_code == 200


def test_redis_frozen_mid_conversation_loses_nothing(stack: Stack) -> None:
    stack.sms("hi", "SM1")
    stack.sms("6", "SM2")  # now on the calf question
    stack.redis.pause()
    try:
        assert httpx.get(stack.url + "/healthz", timeout=10).status_code == 503
        assert messages(stack.sms("coughing up blood", "SM3"))[0].startswith("Call 911 now.")
        assert "try again" in "".join(messages(stack.sms("4", "SM4")))
    finally:
        stack.redis.resume()
    assert httpx.get(stack.url + "/healthz", timeout=10).status_code == 200
    # The answer given while Redis was away is asked for again, and the conversation carries on where it was.
    assert "How old" in "".join(messages(stack.sms("4", "SM5")))


def test_no_identifier_or_message_text_in_any_log_line(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    configure_logging()  # as `kneebot serve` does: chatty libraries at WARNING
    caplog.set_level(logging.DEBUG)
    secret_words = "my calf aches terribly"
    stack.sms("hi", "SM1")
    for i, answer in enumerate(["6", secret_words, "4", "40", "4", "3", "5", "4", "2 weeks", "1", "3"], start=2):
        stack.sms(answer, f"SM{i}")
    stack.tg(message_update(1, CHAT, "/start"))
    stack.tg(message_update(2, CHAT, secret_words))
    wait_for(lambda: len(stack.telegram.sent(CHAT)) == 2)  # "noted", and the question again, in one message
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # the conversation was logged
    for needle in (PHONE, PHONE[2:], str(CHAT), secret_words, "aches", TOKEN, AUTH_TOKEN):
        assert needle not in logged


def test_long_polling_runs_the_same_conversation(redis_url: str) -> None:
    import asyncio

    telegram = FakeTelegramAPI()
    with ServedApp(telegram.app) as served:
        settings = settings_for(redis_url=redis_url, telegram_api=served.url, telegram_webhook_secret=None)
        state = create_app(settings).state.kneebot
        telegram.queue_update(message_update(1, CHAT, "/start"), message_update(2, CHAT, "1"))

        async def run() -> None:
            stop, both = asyncio.Event(), asyncio.Event()
            channel = state.channels[TelegramChannel.name]
            await channel.start()
            handled = []

            async def handle(update: Any) -> None:
                inbound = parse_update(update)
                assert inbound is not None
                await state.receive(channel, inbound)
                handled.append(inbound)
                if len(handled) == 2:
                    both.set()

            task = asyncio.create_task(channel.poll(handle, stop=stop, timeout_s=1))
            await asyncio.wait_for(both.wait(), 10)
            stop.set()
            await task
            await asyncio.gather(*state.tasks)  # the replies, sent in the background
            await channel.stop()
            await state.store.aclose()

        asyncio.run(run())
    texts = [m["text"] for m in telegram.sent(CHAT)]
    assert "safety check" in texts[0] and "Call" in texts[1] and "911" in texts[1]


def everything_stored(redis_url: str) -> dict[str, str]:
    """Every key in Redis and its value (strings, hashes, sets, sorted sets, streams), as text."""
    import redis as sync_redis

    with sync_redis.Redis.from_url(redis_url, decode_responses=True) as client:
        dump = {}
        for key in client.scan_iter(match="*"):
            kind = client.type(key)
            if kind == "string":
                value: object = client.get(key)
            elif kind == "hash":
                value = client.hgetall(key)
            elif kind == "set":
                value = client.smembers(key)
            elif kind == "zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = client.xrange(key)
            dump[key] = repr(value)
        return dump


async def everything_stored_async(client: Any) -> dict[str, str]:
    """`everything_stored` through an asyncio client (decoded as text)."""
    dump = {}
    async for raw in client.scan_iter(match="*"):
        key = raw.decode()
        kind = (await client.type(key)).decode()
        if kind == "string":
            value: object = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "set":
            value = await client.smembers(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        else:
            value = await client.xrange(key)
        dump[key] = repr(value)
    return dump


def test_delete_by_sms_removes_everything_and_says_so(stack: Stack, redis_url: str) -> None:
    stack.sms("hi", "SM1")
    stack.sms("6", "SM2")
    assert everything_stored(redis_url)
    assert "deleted" in "".join(messages(stack.sms("DELETE", "SM3")))
    # Left: the audit trail (decisions, never who they were about), the keyed hashes of the message ids (for a
    # replay; nothing of the person), and the web process's heartbeat as a reader of the send queue.
    left = everything_stored(redis_url)
    assert {k for k in left if not k.startswith("kneebot:v1:processed:{")} <= {
        "kneebot:v1:audit",
        "kneebot:v1:senders",
        "kneebot:v1:send-queue",
    }
    participant = keys.participant_id(ID_SECRET.encode(), "sms", PHONE)
    for key, value in left.items():
        for needle in (participant, participant[4:], PHONE.lstrip("+"), twilio_sid("SM1")[2:]):
            assert needle not in key and needle not in value, key
    assert "deleted" in left["kneebot:v1:audit"]


PERSONAS = [c for c in VIGNETTES if c["id"] in {"KB-E01", "KB-E05", "KB-U01", "KB-U06", "KB-S01", "KB-S04", "KB-C01"}]


def telegram_conversation(stack: Stack, chat: int, persona: Findings, flow: FlowDefinition) -> str:
    update = 1
    stack.tg(message_update(update, chat, "/start"))
    for _ in range(20):
        wait_for(lambda n=update: len(stack.telegram.sent(chat)) >= n)
        last = stack.telegram.sent(chat)[-1]
        markup = last.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        rows = [row for row in rows or [] if not row[0]["callback_data"].startswith(f"{MORE_NODE}:")]  # details
        node = rows[0][0]["callback_data"].split(":")[0] if rows else QUESTION_BY_TEXT.get(last["text"].split("\n")[-1])
        if node is None:
            return re.sub(r"<[^>]+>", "", str(last["text"]))  # the emergency number is in bold
        update += 1
        answer = persona_answer(flow, node, persona)
        if rows:
            stack.tg(callback_update(update, chat, f"{node}:{answer}", message_id=update))
        else:
            stack.tg(message_update(update, chat, "not sure" if answer == "unsure" else answer))
    raise AssertionError("conversation did not end")


def sms_conversation(stack: Stack, sender: str, persona: Findings, flow: FlowDefinition) -> str:
    reply = messages(stack.sms("hi", f"{sender}-0", sender=sender))
    for i in range(1, 21):
        text = reply[-1]
        node = next((n for n, t in NUMBER_PROMPTS.items() if t in text), None)
        numbered = "Reply with a number:" in text
        if node is None and not numbered:
            return reply[0]
        if numbered:
            node = next(n for n, t in CHOICE_PROMPTS.items() if t in text)
            ids = [c.id for c in flow.nodes[node].choices]
            answer = str(ids.index(persona_answer(flow, node, persona)) + 1)
        else:
            value = persona_answer(flow, node, persona)
            answer = "not sure" if value == "unsure" else value
        reply = messages(stack.sms(answer, f"{sender}-{i}", sender=sender))
    raise AssertionError("conversation did not end")


@pytest.mark.parametrize("case", PERSONAS, ids=[c["id"] for c in PERSONAS])
def test_the_same_persona_reaches_the_same_level_on_both_channels(stack: Stack, case: dict[str, Any]) -> None:
    persona = Findings.model_validate(case["facts"])
    flow = load_content().intake
    action = {
        "emergency": "Call 911 now.",
        "urgent": "Get seen today",
        "soon": "Book an appointment",
        "self_care": "This sounds like something you can look after at home.",
    }[case["expected_level"]]
    assert telegram_conversation(stack, CHAT, persona, flow).startswith(action)
    assert sms_conversation(stack, PHONE, persona, flow).startswith(action)


_CATALOG = load_content().catalog
CHOICE_PROMPTS = {
    n: _CATALOG.raw(f"intake.{n}.prompt", "en") for n, node in load_content().intake.nodes.items() if node.choices
}
NUMBER_PROMPTS = {
    n: _CATALOG.raw(f"intake.{n}.prompt", "en")
    for n, node in load_content().intake.nodes.items()
    if node.kind == "number"
}
QUESTION_BY_TEXT = {text: n for n, text in NUMBER_PROMPTS.items()}
