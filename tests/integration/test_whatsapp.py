"""WhatsApp end to end: the real server (uvicorn, loopback) and a real redis-server, the real twilio client against
the fake Twilio API, and the worker driven tick by tick under a clock the test moves (the fake's 24-hour window runs
on the same clock).

A WhatsApp sender has a conversation of its own (not the SMS one of the same number), gets its replies in TwiML, and
its check-ins as free text while the window is open and as the approved template once it has closed.
"""

from __future__ import annotations

import asyncio
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from bot.app.server import create_app
from bot.app.settings import Settings
from bot.app.wiring import Services, make_channels
from bot.app.worker import Worker
from bot.channels.whatsapp import WhatsAppChannel
from bot.content.loader import Content
from bot.shell.delivery import DeliveryFailed
from bot.storage import keys
from bot.storage.checkins import Address
from tests.conftest import ID_SECRET, FixedClock
from tests.integration.conftest import SMS_PATH, post_signed, settings_for, twilio_sid
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import FakeTelegramAPI
from tests.integration.fakes.twilio_api import OUTSIDE_WINDOW, FakeTwilioApi

pytestmark = pytest.mark.real_redis

WA_PATH = WhatsAppChannel.path
OURS = "+15005550007"
PHONE = "+12125550123"  # New York
PERSON = "whatsapp:" + PHONE
CHECKIN_EN, CHECKIN_ES = "HX" + "a" * 32, "HX" + "b" * 32
# A Monday morning in New York, so no check-in meets the quiet hours: 2 h (the window still open) and 48 h (closed).
START = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
SELF_CARE = ["6", "4", "30", "4", "3", "5", "4", "1 week", "1", "3"]  # a self-care assessment, answered by number
_SIDS = itertools.count(1)
PEOPLE = (("wa", PERSON), ("sms", PHONE))  # participant prefix and provider id


@dataclass
class Stack:
    url: str
    settings: Settings
    clock: FixedClock
    twilio: FakeTwilioApi
    redis_url: str

    def whatsapp(self, body: str, person: str = PERSON, **fields: str) -> list[str]:
        """A message from the person on WhatsApp, signed as Twilio signs it; the TwiML reply's bodies."""
        form = {"From": person, "To": "whatsapp:" + OURS, "Body": body, "MessageSid": twilio_sid(f"wa{next(_SIDS)}")}
        response = post_signed(self.url, form | fields, WA_PATH)
        assert response.status_code == 200, response.text
        self.twilio.wrote(person, self.clock.now())  # as Twilio sees it: the window opens again
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    def sms(self, body: str) -> list[str]:
        form = {"From": PHONE, "To": OURS, "Body": body, "MessageSid": twilio_sid(f"sms{next(_SIDS)}")}
        response = post_signed(self.url, form, SMS_PATH)
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    def to_person(self, person: str = PERSON) -> list[Any]:
        return [m for m in self.twilio.messages if m.to == person]


@pytest.fixture
def stack(request: pytest.FixtureRequest, redis_url: str, content: Content) -> Iterator[Stack]:
    """The served stack; a test marked `staffed` has a staff chat, so HUMAN reaches the clinic's staff."""
    staffed = {"staff_telegram_chat_id": -100123} if request.node.get_closest_marker("staffed") else {}
    clock = FixedClock(START)
    twilio = FakeTwilioApi(now=clock.now)
    with ServedApp(FakeTelegramAPI().app) as tg, ServedApp(twilio.app) as tw:
        settings = settings_for(
            redis_url=redis_url,
            telegram_api=tg.url,
            twilio_api=tw.url,
            twilio_from_number=OURS,
            whatsapp_from_number=OURS,
            whatsapp_templates=f"checkin.en={CHECKIN_EN}:buttons,checkin.es={CHECKIN_ES}",
            checkin_schedule="self_care=2h,48h",
            sms_rate_per_s=1000,
            whatsapp_rate_per_s=1000,
            **staffed,
        )
        settings.check_for_worker()
        with ServedApp(create_app(settings, content=content, clock=clock)) as served:
            yield Stack(served.url, settings, clock, twilio, redis_url)


def tick(stack: Stack, content: Content) -> int:
    """One pass of a worker (its own channels and Redis client, in its own event loop)."""

    async def main() -> int:
        channels = make_channels(stack.settings, content, per_process_limiter=False)
        client = redis.asyncio.Redis.from_url(stack.redis_url)
        services = Services.build(stack.settings, content, client, stack.clock, channels)
        try:
            return await Worker(services).tick()
        finally:
            await channels.stop()
            await services.aclose()

    return asyncio.run(main())


def staff_reply(stack: Stack, content: Content, case_id: str, text: str) -> str:
    """A staff member's reply to the case, as the console sends it (CaseWork, with its own channels)."""

    async def main() -> str:
        from bot.app.wiring import staff_targets, staff_words
        from bot.shell.casework import CaseWork
        from bot.shell.delivery import Deliverer
        from bot.storage.casework import CaseDesk

        channels = make_channels(stack.settings, content, per_process_limiter=False)
        client = redis.asyncio.Redis.from_url(stack.redis_url)
        services = Services.build(stack.settings, content, client, stack.clock, channels)
        deliverer = Deliverer(channels, services.store, services.limiter)
        work = CaseWork(
            CaseDesk(services.cases), services.audit, deliverer, services.service, staff_targets(stack.settings),
            staff_words(stack.settings, content), stack.clock, stack.settings.retention,
        )  # fmt: skip
        try:
            return await work.reply(case_id, "nurse@clinic.example", text)
        finally:
            await channels.stop()
            await services.aclose()

    return asyncio.run(main())


@pytest.mark.staffed
def test_staff_talk_to_a_whatsapp_person_inside_the_window_and_are_told_when_it_closed(
    stack: Stack, content: Content
) -> None:
    stack.whatsapp("hi")
    assert "Do you agree to share them with the clinic?" in "\n".join(stack.whatsapp("HUMAN"))
    stack.whatsapp("1")
    assert stack.whatsapp("can I drive?") == []

    async def cases() -> list[Any]:
        from bot.storage.cases import CaseStore

        client = redis.asyncio.Redis.from_url(stack.redis_url)
        try:
            return await CaseStore(client).unresolved()
        finally:
            await client.aclose()

    [case] = asyncio.run(cases())
    assert case.reach == Address(channel="whatsapp", to=PERSON)
    assert staff_reply(stack, content, case.id, "Not until you can walk without pain.") == "sent"
    assert stack.to_person()[-1].body == "Clinic team: Not until you can walk without pain."
    stack.clock.advance(timedelta(hours=25))  # WhatsApp's 24 hours since the person wrote are over
    assert staff_reply(stack, content, case.id, "How are you today?") == "failed"
    assert stack.to_person()[-1].body == "Clinic team: Not until you can walk without pain."


def assess(stack: Stack) -> list[str]:
    stack.whatsapp("hi")
    for answer in SELF_CARE[:-1]:
        stack.whatsapp(answer)
    return stack.whatsapp(SELF_CARE[-1])


def test_a_whatsapp_conversation_is_its_own_not_the_sms_one_of_the_same_number(stack: Stack) -> None:
    first = "\n".join(stack.whatsapp("hi"))
    assert "Reply with a number" in first
    assert "calf" in "\n".join(stack.whatsapp("6"))  # the first answer, on WhatsApp
    assert "Reply with a number" in "\n".join(stack.sms("hi"))  # SMS starts its own conversation
    assert "How old" in "\n".join(stack.whatsapp("4"))  # and WhatsApp's carries on where it was
    stored = {key.decode() for key in redis.Redis.from_url(stack.redis_url).scan_iter("kneebot:v1:conversation:*")}
    assert stored == {keys.conversation(keys.participant_id(ID_SECRET.encode(), p, u)) for p, u in PEOPLE}


def test_a_forged_or_unsigned_whatsapp_webhook_is_refused(stack: Stack) -> None:
    form = {"From": PERSON, "To": "whatsapp:" + OURS, "Body": "hi", "MessageSid": twilio_sid("forged")}
    signed_for_sms = post_signed(stack.url, form, SMS_PATH).request.headers["X-Twilio-Signature"]
    response = httpx.post(stack.url + WA_PATH, data=form, headers={"X-Twilio-Signature": signed_for_sms}, timeout=10)
    assert response.status_code == 403  # signed for another URL
    assert httpx.post(stack.url + WA_PATH, data=form, timeout=10).status_code == 403
    not_whatsapp = form | {"From": PHONE, "MessageSid": twilio_sid("plain")}
    assert post_signed(stack.url, not_whatsapp, WA_PATH).status_code == 400


def test_a_checkin_inside_the_window_is_free_text_and_after_it_closed_the_approved_template(
    stack: Stack, content: Content
) -> None:
    outcome = "\n".join(assess(stack))
    assert "look after at home" in outcome
    stack.clock.advance(timedelta(hours=2, seconds=2))  # the first check-in; the person wrote 2 hours ago
    assert tick(stack, content) == 1
    [inside] = stack.to_person()
    assert inside.content_sid is None and "How is your knee now" in inside.body and "1 Better" in inside.body
    assert inside.from_ == "whatsapp:" + OURS

    stack.clock.advance(timedelta(hours=46))  # the second: 48 hours after the assessment, the window long closed
    assert tick(stack, content) == 1
    outside = stack.to_person()[-1]
    assert outside.content_sid == CHECKIN_EN and outside.body == ""
    assert outside.content_variables is not None
    assert "checking in" in outside.content_variables["1"]  # the opening, filled in
    assert outside.content_variables["2"].startswith("How is your knee now")  # the buttons are the template's
    assert "1 Better" not in outside.content_variables["2"]

    # The person taps a quick-reply button: its id names the question and the choice.
    reply = "\n".join(stack.whatsapp("Better", ButtonPayload="how:better", ButtonText="Better"))
    assert "good to hear" in reply


def test_free_text_outside_the_window_is_refused_as_twilio_refuses_it(stack: Stack, content: Content) -> None:
    stack.whatsapp("hi")
    stack.clock.advance(timedelta(hours=25))

    async def main() -> None:
        channels = make_channels(stack.settings, content, per_process_limiter=False)
        client = redis.asyncio.Redis.from_url(stack.redis_url)
        services = Services.build(stack.settings, content, client, stack.clock, channels)
        worker = Worker(services)
        try:
            with pytest.raises(DeliveryFailed) as refused:
                await worker.deliverer.send_text(
                    Address(channel=WhatsAppChannel.name, to=PERSON), "Hello from the clinic"
                )
            assert refused.value.retry_after_s == 0  # not worth a retry: only a template can go now
            assert str(OUTSIDE_WINDOW) in str(refused.value)
        finally:
            await channels.stop()
            await services.aclose()

    asyncio.run(main())
    assert stack.to_person() == []


def test_a_spanish_number_gets_the_spanish_template_without_buttons_with_numbered_choices(
    stack: Stack, content: Content
) -> None:
    spain = "whatsapp:+34612345678"  # the conversation is in Spanish
    stack.whatsapp("hola", spain)
    for answer in SELF_CARE:
        stack.whatsapp(answer, spain)
    stack.clock.advance(timedelta(hours=25))  # the first check-in is due, and the window closed an hour ago
    assert tick(stack, content) == 1
    [sent] = stack.to_person(spain)
    assert sent.content_sid == CHECKIN_ES and sent.content_variables is not None
    assert "\n1 " in sent.content_variables["2"]  # no buttons in this template: the choices are numbered
