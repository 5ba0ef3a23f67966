"""Follow-up end to end: check-ins and staff escalation through the real server (uvicorn), a real redis-server, the
fake Telegram and Twilio APIs, and the worker driven tick by tick under a clock the tests move.

One server stack serves the whole module; each test gets an empty Redis, fresh fakes behind the same URLs, the clock
reset, and its own worker (channels, Redis client) inside its own event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis.asyncio
from clinical import VIGNETTES
from pydantic import SecretStr
from redis_server import RedisServer
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from bot.app.server import create_app
from bot.app.settings import Settings
from bot.app.simulate import persona_answer
from bot.app.wiring import Services, make_channels
from bot.app.worker import Worker
from bot.channels.sms import SmsChannel
from bot.content.loader import load_content
from bot.storage import keys
from bot.storage.audit import ALLOWED_FIELDS, AuditLog
from bot.storage.cases import Case
from bot.storage.checkins import SPREAD_MS, CheckIn, spread_ms
from bot.storage.ratelimit import Grant
from bot.triage.effects import MORE_NODE
from bot.triage.findings import Findings
from bot.triage.session import SessionStatus
from tests.integration.conftest import SMS_PATH, TELEGRAM_PATH, settings_for
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.integration.fakes.twilio_api import AUTH_TOKEN, FakeTwilioApi
from tests.integration.test_server import everything_stored_async as everything_stored

SECRET = "followup-webhook-secret"
PUBLIC = "https://kneebot.example.org"
FROM = "+15005550006"
STAFF_CHAT = -1009876543210  # a supergroup
ONCALL = ("+12125550101", "+12125550102")
NEW_YORK = ZoneInfo("America/New_York")
# A Monday in June (EDT, no DST change for weeks). At 08:30 local no level's check-in falls in the quiet hours
# (21:00-08:00): +1h 09:30, +6h 14:30, +60h 20:30, +48h and +7d 08:30.
MORNING = datetime(2026, 6, 1, 8, 30, tzinfo=NEW_YORK).astimezone(UTC)
ACK_DEADLINE = timedelta(minutes=10)
SPREAD = timedelta(milliseconds=SPREAD_MS)  # a check-in goes out up to this long after its due time

PERSONAS = {c["id"]: c["facts"] for c in VIGNETTES}
URGENT, SOON, SELF_CARE = PERSONAS["KB-U01"], PERSONAS["KB-S04"], PERSONAS["KB-C01"]
EMERGENCY_WORDS = "my calf is swollen and I can't breathe"

CONTENT = load_content()
INTAKE = CONTENT.intake
CATALOG = CONTENT.catalog
CHOICE_PROMPTS = {n: CATALOG.raw(f"intake.{n}.prompt", "en") for n, node in INTAKE.nodes.items() if node.choices}
NUMBER_PROMPTS = {
    n: CATALOG.raw(f"intake.{n}.prompt", "en") for n, node in INTAKE.nodes.items() if node.kind == "number"
}
CHECKIN_PROMPT = "How is your knee now"
SEEN_PROMPT = "Have you been seen"  # the check-in after an emergency or urgent message asks this first
_SIDS = itertools.count(1)
_UPDATES = itertools.count(1)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A New York wall-clock time in June 2026, as a UTC instant."""
    return datetime(2026, 6, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


class MovableClock:
    """The one clock of the server and the worker: the test moves it between requests."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class Switch:
    """An ASGI app that forwards to whichever app it holds, so each test gets fresh fakes behind the same URL."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class Served:
    url: str
    settings: Settings
    clock: MovableClock
    telegram_switch: Switch
    twilio_switch: Switch
    redis: RedisServer


@dataclass
class Stack:
    served: Served
    telegram: FakeTelegramAPI
    twilio: FakeTwilioApi

    @property
    def settings(self) -> Settings:
        return self.served.settings

    @property
    def clock(self) -> MovableClock:
        return self.served.clock


@pytest.fixture(scope="module")
def served(redis_server: RedisServer) -> Iterator[Served]:
    telegram_switch, twilio_switch = Switch(FakeTelegramAPI().app), Switch(FakeTwilioApi().app)
    clock = MovableClock(MORNING)
    with ServedApp(telegram_switch) as tg_served, ServedApp(twilio_switch) as tw_served:
        settings = settings_for(
            redis_url=redis_server.url,
            telegram_api=tg_served.url,
            twilio_api=tw_served.url,
            telegram_webhook_secret=SecretStr(SECRET),
            twilio_from_number=FROM,
            staff_telegram_chat_id=STAFF_CHAT,
            oncall_sms_numbers=",".join(ONCALL),
            escalation_ack_deadline="10m",
            # Generous provider limits: the rate limiter runs on Redis's real clock, and these tests are about time
            # on the movable one.
            telegram_rate_per_s=1000,
            telegram_chat_rate_per_s=1000,
            sms_rate_per_s=1000,
        )
        settings.check_for_worker()
        app = create_app(settings, content=CONTENT, clock=clock)
        with ServedApp(app) as server:
            yield Served(server.url, settings, clock, telegram_switch, twilio_switch, redis_server)


@pytest.fixture
def stack(served: Served) -> Stack:
    served.redis.start()  # a no-op unless an earlier test left it stopped
    served.redis.flushall()
    served.clock.set(MORNING)
    telegram, twilio = FakeTelegramAPI(), FakeTwilioApi()
    served.telegram_switch.app, served.twilio_switch.app = telegram.app, twilio.app
    return Stack(served, telegram, twilio)


# --- one test's worker, webhooks and Redis, in its own event loop ---------------------------------------------------


class Harness:
    def __init__(self, stack: Stack, client: redis.asyncio.Redis, services: Services, worker: Worker) -> None:
        self.stack, self.client, self.services, self.worker = stack, client, services, worker
        self.http = httpx.AsyncClient(base_url=stack.served.url, timeout=15)

    @property
    def telegram(self) -> FakeTelegramAPI:
        return self.stack.telegram

    @property
    def twilio(self) -> FakeTwilioApi:
        return self.stack.twilio

    @property
    def clock(self) -> MovableClock:
        return self.stack.clock

    # webhooks

    async def sms(self, body: str, sender: str) -> list[str]:
        """Post a signed Twilio webhook; the bodies of the TwiML reply."""
        return await self.post_sms(sms_form(body, sender))

    async def post_sms(self, form: dict[str, str]) -> list[str]:
        """Post this form, signed, as Twilio does (again, for a replay); the bodies of the TwiML reply."""
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
        response = await self.http.post(SMS_PATH, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    async def tg(self, update: dict[str, Any]) -> None:
        response = await self.http.post(TELEGRAM_PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200

    async def tg_text(self, chat: int, text: str) -> None:
        await self.tg(message_update(next(_UPDATES), chat, text))

    async def tg_press(self, chat: int, data: str) -> str:
        """Press a button on the last message sent to the chat; the callback query's id."""
        update = callback_update(next(_UPDATES), chat, data, message_id=self.last_message_id(chat))
        await self.tg(update)
        return str(update["callback_query"]["id"])

    async def staff_press(self, data: str) -> str:
        """A staff member presses a button on the latest case card in the staff chat; Telegram's answer to the press."""
        update = callback_update(next(_UPDATES), STAFF_CHAT, data, message_id=self.last_message_id(STAFF_CHAT))
        callback_id = update["callback_query"]["id"]
        await self.tg(update)
        answers = [
            c for c in self.telegram.calls_to("answerCallbackQuery") if c.params["callback_query_id"] == callback_id
        ]
        assert len(answers) == 1
        return str(answers[0].params.get("text", ""))

    def last_message_id(self, chat: int) -> int:
        ids = [m for (c, m) in list(self.telegram.messages) if c == chat]
        return max(ids, default=1)

    # conversations

    async def sms_persona(self, sender: str, facts: dict[str, Any]) -> list[str]:
        """Answer the intake by SMS as the persona would; the outcome's messages."""
        persona = Findings.model_validate(facts)
        reply = await self.sms("hi", sender)
        for _ in range(25):
            text = reply[-1]
            node = next((n for n, t in NUMBER_PROMPTS.items() if t in text), None)
            if node is None and "Reply with a number:" not in text:
                return reply
            if node is None:
                node = next(n for n, t in CHOICE_PROMPTS.items() if t in text)
                ids = [c.id for c in INTAKE.nodes[node].choices]
                answer = str(ids.index(persona_answer(INTAKE, node, persona)) + 1)
            else:
                value = persona_answer(INTAKE, node, persona)
                answer = "not sure" if value == "unsure" else value
            reply = await self.sms(answer, sender)
        raise AssertionError("the SMS conversation did not end")

    async def tg_persona(self, chat: int, facts: dict[str, Any]) -> str:
        """Answer the intake on Telegram (buttons, typed numbers) as the persona would; the outcome's text."""
        persona = Findings.model_validate(facts)
        await self.tg_text(chat, "/start")
        for _ in range(25):
            last = self.telegram.sent(chat)[-1]
            rows = [row for row in buttons(last) if not row[1].startswith(f"{MORE_NODE}:")]  # an outcome's details
            node = rows[0][1].split(":")[0] if rows else None
            if node is None:
                node = next((n for n, t in NUMBER_PROMPTS.items() if t in last["text"]), None)
            if node is None:
                return plain(last["text"])
            answer = persona_answer(INTAKE, node, persona)
            if rows:
                await self.tg_press(chat, f"{node}:{answer}")
            else:
                await self.tg_text(chat, "not sure" if answer == "unsure" else answer)
        raise AssertionError("the Telegram conversation did not end")

    # the worker and what it keeps

    async def tick(self) -> int:
        return await self.worker.tick()

    def sms_participant(self, phone: str) -> str:
        return keys.participant_id(self.secret, "sms", phone)

    def tg_participant(self, chat: int) -> str:
        return keys.participant_id(self.secret, "tg", str(chat))

    @property
    def secret(self) -> bytes:
        return self.stack.settings.id_hash_secret.get_secret_value().encode()

    async def pending(self, participant: str) -> list[CheckIn]:
        return await self.services.checkins.pending_for(participant)

    async def due_at(self, checkin: CheckIn) -> datetime | None:
        """When the shared schedule (what the worker claims from) has the check-in due, less its fixed spread."""
        score = await self.client.zscore(keys.checkins(), checkin.id)
        return None if score is None else datetime.fromtimestamp((score - spread_ms(checkin.id)) / 1000, UTC)

    async def cases(self) -> list[Case]:
        return await self.services.cases.unresolved()

    async def case(self, case_id: str) -> Case:
        found = await self.services.cases.get(case_id)
        assert found is not None
        return found

    async def audit(self) -> list[dict[str, str]]:
        return [row async for row in AuditLog(self.client).export()]

    def sms_to(self, number: str) -> list[str]:
        return [m.body for m in self.twilio.messages if m.to == number]


@asynccontextmanager
async def harness(stack: Stack) -> AsyncIterator[Harness]:
    settings = stack.settings
    client = redis.asyncio.Redis.from_url(settings.redis_url or "")
    channels = make_channels(settings, CONTENT, per_process_limiter=False)
    await channels.start()
    services = Services.build(settings, CONTENT, client, stack.clock, channels)
    h = Harness(stack, client, services, Worker(services))
    try:
        yield h
    finally:
        await h.http.aclose()
        await channels.stop()
        await services.aclose()


def run(stack: Stack, scenario: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        async with harness(stack) as h:
            await scenario(h)

    asyncio.run(main())


def sms_form(body: str, sender: str) -> dict[str, str]:
    return {"From": sender, "To": FROM, "Body": body, "MessageSid": f"SM{next(_SIDS):032d}", "NumMedia": "0"}


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data) of a sent message's inline keyboard, one button a row."""
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    return [(b["text"], b["callback_data"]) for row in rows or [] for b in row]


def plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def schedule(checkins: list[CheckIn]) -> list[tuple[int, str, datetime, bool]]:
    return [(c.seq, c.level, c.due_at, c.exempt) for c in checkins]


def case_id_in(text: str) -> str:
    found = re.search(r"\bK[A-Z2-7]{6}\b", text)
    assert found is not None, text
    return found.group(0)


# --- 1. each level's check-ins --------------------------------------------------------------------------------------


def test_each_level_schedules_its_checkins(stack: Stack) -> None:
    phones = {
        "emergency": "+12125550111",
        "urgent": "+12125550112",
        "soon": "+12125550113",
        "self_care": "+12125550114",
    }
    chat = 600111

    async def scenario(h: Harness) -> None:
        now = h.clock.now()
        assert (await h.sms(EMERGENCY_WORDS, phones["emergency"]))[0].startswith("Call 911 now.")
        assert (await h.sms_persona(phones["urgent"], URGENT))[0].startswith("Get seen today")
        assert (await h.sms_persona(phones["soon"], SOON))[0].startswith("Book an appointment")
        outcome = await h.sms_persona(phones["self_care"], SELF_CARE)
        assert outcome[0].startswith("This sounds like something you can look after at home.")
        assert "I will check in with you in 2 days and again in a week" in "\n".join(outcome)
        assert (await h.tg_persona(chat, SELF_CARE)).startswith("This sounds like something you can look after")

        expected = {
            "emergency": [(1, "emergency", now + timedelta(hours=1), True)],
            "urgent": [(1, "urgent", now + timedelta(hours=6), True)],
            "soon": [(1, "soon", now + timedelta(hours=60), False)],
            "self_care": [
                (1, "self_care", now + timedelta(hours=48), False),
                (2, "self_care", now + timedelta(days=7), False),
            ],
        }
        for level, phone in phones.items():
            pending = await h.pending(h.sms_participant(phone))
            assert schedule(pending) == expected[level], level
            for checkin in pending:
                assert checkin.zone == "America/New_York"
                assert (checkin.address.channel, checkin.address.to) == ("sms", phone)
                assert await h.due_at(checkin) == checkin.due_at
        on_telegram = await h.pending(h.tg_participant(chat))
        assert schedule(on_telegram) == expected["self_care"]
        assert {(c.address.channel, c.address.to, c.zone) for c in on_telegram} == {
            ("telegram", str(chat), "America/New_York")
        }
        # Nothing is due yet: the worker only pages staff about the emergency's and the urgent one's cases.
        assert await h.tick() == 2
        assert h.worker.checkins.outcomes == {} and h.worker.pager.pages == 2
        assert not any(CHECKIN_PROMPT in body for body in (m.body for m in h.twilio.messages))

    run(stack, scenario)


# --- 2. quiet hours -------------------------------------------------------------------------------------------------


def test_quiet_hours_move_a_self_care_checkin_to_the_morning_but_not_an_emergency_one(stack: Stack) -> None:
    self_care, emergency = "+12125550121", "+12125550122"
    stack.clock.set(local(1, 22, 30))  # +48h lands at 22:30 local, inside 21:00-08:00

    async def scenario(h: Harness) -> None:
        now = h.clock.now()
        await h.sms_persona(self_care, SELF_CARE)
        await h.sms(EMERGENCY_WORDS, emergency)
        moved = await h.pending(h.sms_participant(self_care))
        assert schedule(moved) == [(1, "self_care", local(4, 8), False), (2, "self_care", local(9, 8), False)]
        assert [await h.due_at(c) for c in moved] == [local(4, 8), local(9, 8)]
        kept = await h.pending(h.sms_participant(emergency))
        assert schedule(kept) == [(1, "emergency", now + timedelta(hours=1), True)]  # 23:30 local: exempt
        reasons = [(e["level"], e["reason"]) for e in await h.audit() if e["kind"] == "checkin_scheduled"]
        assert sorted(reasons) == [("emergency", "none"), ("self_care", "quiet_hours"), ("self_care", "quiet_hours")]

    run(stack, scenario)


def test_worker_at_night_postpones_a_due_checkin_but_sends_an_exempt_one(stack: Stack) -> None:
    self_care, emergency = "+12125550131", "+12125550132"

    async def scenario(h: Harness) -> None:
        await h.sms_persona(self_care, SELF_CARE)  # check-in due 08:30 on the 3rd
        participant = h.sms_participant(self_care)
        before = len(h.twilio.messages)
        h.clock.set(local(3, 21, 30))  # the worker was down all day; it runs again at night
        assert await h.tick() == 1
        assert h.worker.checkins.outcomes == {"deferred": 1}
        assert len(h.twilio.messages) == before  # postponed, not sent
        first = (await h.pending(participant))[0]
        assert await h.due_at(first) == local(4, 8)

        await h.sms(EMERGENCY_WORDS, emergency)  # 21:30: an emergency check-in due 22:30
        h.clock.set(local(3, 22, 31))
        await h.tick()
        assert any(SEEN_PROMPT in body for body in h.sms_to(emergency))  # sent at night: exempt
        assert not any(CHECKIN_PROMPT in body for body in h.sms_to(self_care))
        assert await h.pending(h.sms_participant(emergency)) == []

        h.clock.set(local(4, 8) + SPREAD)
        await h.tick()
        assert any(CHECKIN_PROMPT in body for body in h.sms_to(self_care))
        assert [c.seq for c in await h.pending(participant)] == [2]

    run(stack, scenario)


# --- 3. delivery ----------------------------------------------------------------------------------------------------


def test_a_checkin_without_a_rate_limit_slot_waits_before_the_engine_runs_then_goes(stack: Stack) -> None:
    phone = "+12125550311"

    async def scenario(h: Harness) -> None:
        await h.sms_persona(phone, SELF_CARE)
        before = len(h.sms_to(phone))
        limiter = h.worker.deliverer.limiter
        assert limiter is not None
        limits = h.worker.deliverer.limits(SmsChannel.name, None)
        taken = [await limiter.try_acquire(limits, "elsewhere") for _ in range(limits[0].count)]  # another sender
        grants = [g for g in taken if isinstance(g, Grant)]
        assert len(grants) == limits[0].count
        h.clock.advance(timedelta(hours=48) + SPREAD)
        assert await h.tick() == 1
        assert h.worker.checkins.outcomes == {"waited": 1}
        assert len(h.sms_to(phone)) == before
        assert "checkin_sent" not in {e["kind"] for e in await h.audit()}  # the engine did not run for it
        assert [c.seq for c in await h.pending(h.sms_participant(phone))] == [1, 2]

        for grant in grants:  # the other sender gives its slots back
            await limiter.cancel(grant)
        h.clock.advance(timedelta(seconds=2))  # past the limiter's hint
        assert await h.tick() == 1
        assert h.worker.checkins.outcomes == {"waited": 1, "sent": 1}
        assert CHECKIN_PROMPT in h.sms_to(phone)[-1]
        assert [e["kind"] for e in await h.audit()].count("checkin_sent") == 1

    run(stack, scenario)


def test_worker_delivers_a_due_checkin_once_on_telegram_and_sms(stack: Stack) -> None:
    chat, phone = 600301, "+12125550301"

    async def scenario(h: Harness) -> None:
        await h.tg_persona(chat, SELF_CARE)
        await h.sms_persona(phone, SELF_CARE)
        sent_tg, sent_sms = len(h.telegram.sent(chat)), len(h.sms_to(phone))
        h.clock.advance(timedelta(hours=47, minutes=59))
        assert await h.tick() == 0  # not yet due
        h.clock.advance(timedelta(minutes=2))
        assert await h.tick() == 2
        assert h.worker.checkins.outcomes == {"sent": 2}

        new_tg = h.telegram.sent(chat)[sent_tg:]
        assert len(new_tg) == 1
        assert new_tg[0]["text"].startswith("Hi, it's kneebot checking in") and CHECKIN_PROMPT in new_tg[0]["text"]
        assert buttons(new_tg[0]) == [
            ("Better", "how:better"),
            ("About the same", "how:same"),
            ("Worse, or something new", "how:worse"),
        ]
        new_sms = h.sms_to(phone)[sent_sms:]
        assert len(new_sms) == 1
        assert CHECKIN_PROMPT in new_sms[0]
        assert "Reply with a number:\n1 Better\n2 About the same\n3 Worse, or something new" in new_sms[0]

        assert await h.tick() == 0  # nothing twice
        assert len(h.telegram.sent(chat)) == sent_tg + 1 and len(h.sms_to(phone)) == sent_sms + 1
        for participant in (h.tg_participant(chat), h.sms_participant(phone)):
            assert [c.seq for c in await h.pending(participant)] == [2]  # the week's one is still to come
        assert [e["seq"] for e in await h.audit() if e["kind"] == "checkin_sent"] == ["1", "1"]

    run(stack, scenario)


# --- 4. STOP --------------------------------------------------------------------------------------------------------


def test_stop_cancels_the_pending_checkins(stack: Stack) -> None:
    chat, phone = 600401, "+12125550401"

    async def scenario(h: Harness) -> None:
        await h.tg_persona(chat, SELF_CARE)
        await h.sms_persona(phone, SELF_CARE)
        assert len(await h.pending(h.sms_participant(phone))) == 2
        assert "You will get no more messages" in "".join(await h.sms("STOP", phone))
        await h.tg_text(chat, "/stop")
        assert "You will get no more messages" in h.telegram.sent(chat)[-1]["text"]
        assert await h.pending(h.sms_participant(phone)) == []
        assert await h.pending(h.tg_participant(chat)) == []
        assert await h.client.zcard(keys.checkins()) == 0

        sent_tg, sent_sms = len(h.telegram.sent(chat)), len(h.sms_to(phone))
        h.clock.advance(timedelta(days=8))
        assert await h.tick() == 0
        assert len(h.telegram.sent(chat)) == sent_tg and len(h.sms_to(phone)) == sent_sms
        cancelled = [(e["reason"], e["count"]) for e in await h.audit() if e["kind"] == "checkins_cancelled"]
        assert cancelled == [("stop", "2"), ("stop", "2")]

    run(stack, scenario)


# --- 5. a check-in answered with a red flag -------------------------------------------------------------------------


def test_checkin_answered_with_a_red_flag_calls_911_opens_a_case_and_pages_staff(stack: Stack) -> None:
    phone = "+12125550501"

    async def scenario(h: Harness) -> None:
        await h.sms_persona(phone, SELF_CARE)
        assert await h.cases() == []  # self care: no case
        h.clock.advance(timedelta(hours=48) + SPREAD)
        await h.tick()
        assert CHECKIN_PROMPT in h.sms_to(phone)[-1]

        reply = "\n".join(await h.sms("worse, and now I'm short of breath", phone))
        assert reply.startswith("Call 911 now.")
        assert "I have also let the clinic team know." in reply
        [case] = await h.cases()
        assert (case.level, case.reason, case.status, case.channel) == ("emergency", "emergency", "open", "sms")
        assert "short_of_breath" in case.red_flags
        assert case.contact is None  # ESCALATION_SHARE_CONTACT is off
        # The emergency replaces the week's check-in with an hour's one.
        pending = await h.pending(h.sms_participant(phone))
        assert schedule(pending) == [(3, "emergency", h.clock.now() + timedelta(hours=1), True)]

        assert h.telegram.sent(STAFF_CHAT) == []
        await h.tick()
        [card] = h.telegram.sent(STAFF_CHAT)
        assert card["text"].startswith(f"kneebot case {case.id}: Emergency. Emergency sign in a message.")
        assert "Red flags: Short of breath." in card["text"] and phone not in card["text"]
        assert buttons(card) == [("Acknowledge", f"case:ack:{case.id}"), ("Resolve", f"case:resolve:{case.id}")]
        [page] = h.sms_to(ONCALL[0])
        assert f"Reply ACK {case.id} to acknowledge, RESOLVE {case.id} to resolve." in page
        assert (await h.case(case.id)).pages == 1

    run(stack, scenario)


# --- 6. answers to a check-in ---------------------------------------------------------------------------------------


def test_checkin_answers_better_same_and_worse(stack: Stack) -> None:
    better, same, worse, chat = "+12125550601", "+12125550602", "+12125550603", 600601

    async def scenario(h: Harness) -> None:
        start = h.clock.now()
        await h.sms_persona(better, SELF_CARE)
        await h.sms_persona(same, SOON)
        await h.sms_persona(worse, SELF_CARE)
        await h.tg_persona(chat, SELF_CARE)
        h.clock.set(start + timedelta(hours=48, minutes=1))
        assert await h.tick() == 3

        reply = "\n".join(await h.sms("1", better))
        assert "That's good to hear." in reply
        assert "I will check in with you again later." in reply  # the week's check-in is still to come
        assert [c.seq for c in await h.pending(h.sms_participant(better))] == [2]

        await h.tg_press(chat, "how:better")
        assert "That's good to hear." in h.telegram.sent(chat)[-1]["text"]

        reply = "\n".join(await h.sms("3", worse))
        assert "I'm sorry it's worse. Let's go through the safety questions again" in reply
        assert CHOICE_PROMPTS["emergency_signs"] in reply and "Reply with a number:" in reply
        assert await h.pending(h.sms_participant(worse)) == []  # a fresh assessment will schedule anew

        h.clock.set(start + timedelta(hours=60, minutes=1))
        assert await h.tick() == 1
        reply = "\n".join(await h.sms("2", same))
        assert "Thanks for letting me know." in reply
        assert "If you have not seen a doctor or physiotherapist yet, please book an appointment now." in reply
        assert "This was my last check-in." in reply

        answered = sorted((e["answer"], e["level"]) for e in await h.audit() if e["kind"] == "checkin_answered")
        assert answered == [("better", "self_care"), ("better", "self_care"), ("same", "soon"), ("worse", "self_care")]

    run(stack, scenario)


# --- 7. paging ------------------------------------------------------------------------------------------------------


def test_an_unacknowledged_case_is_paged_again_after_the_deadline_rotating_oncall(stack: Stack) -> None:
    phone = "+12125550701"

    async def scenario(h: Harness) -> None:
        await h.sms(EMERGENCY_WORDS, phone)
        [case] = await h.cases()
        await h.tick()  # page 1
        h.clock.advance(ACK_DEADLINE - timedelta(minutes=1))
        await h.tick()  # not yet
        assert len(h.telegram.sent(STAFF_CHAT)) == 1
        h.clock.advance(timedelta(minutes=1, seconds=1))
        await h.tick()  # page 2
        h.clock.advance(ACK_DEADLINE)
        await h.tick()  # page 3: the second number's turn (ESCALATION_PAGES_PER_CONTACT=2)

        assert len(h.telegram.sent(STAFF_CHAT)) == 3
        assert len(h.sms_to(ONCALL[0])) == 2 and len(h.sms_to(ONCALL[1])) == 1
        assert all(case.id in body for body in h.sms_to(ONCALL[0]) + h.sms_to(ONCALL[1]))
        assert (await h.case(case.id)).pages == 3
        pages = [(e["page"], e["target"]) for e in await h.audit() if e["kind"] == "page_sent"]
        assert pages == [("1", "staff_chat,oncall_1"), ("2", "staff_chat,oncall_1"), ("3", "staff_chat,oncall_2")]
        # Each says which page it is and how long the case has waited, in minutes.
        assert "Page 1 of 4, waiting 0 min." in h.sms_to(ONCALL[0])[0]
        assert "Page 2 of 4, waiting 10 min." in h.sms_to(ONCALL[0])[1]
        assert "Page 3 of 4, waiting 20 min." in h.sms_to(ONCALL[1])[0]

        h.clock.advance(ACK_DEADLINE)
        await h.tick()  # page 4, the last
        h.clock.advance(ACK_DEADLINE)
        await h.tick()  # the final notice, to the staff chat and every number
        last = f"Case {case.id}: nobody acknowledged it after 4 pages over 40 min. No more pages will be sent"
        assert h.telegram.sent(STAFF_CHAT)[-1]["text"].startswith(last)
        assert h.sms_to(ONCALL[0])[-1].startswith(last) and h.sms_to(ONCALL[1])[-1].startswith(last)
        assert [len(h.sms_to(n)) for n in ONCALL] == [3, 3] and len(h.telegram.sent(STAFF_CHAT)) == 5
        h.clock.advance(ACK_DEADLINE * 6)
        assert await h.worker.pager.page_due() == 0  # and no page after it
        assert [len(h.sms_to(n)) for n in ONCALL] == [3, 3] and len(h.telegram.sent(STAFF_CHAT)) == 5
        assert (await h.case(case.id)).status == "open"  # still open for staff, in the console
        assert [e["pages"] for e in await h.audit() if e["kind"] == "pages_ended"] == ["4"]

    run(stack, scenario)


def test_an_acknowledged_case_is_not_paged_again_and_a_second_press_is_harmless(stack: Stack) -> None:
    phone = "+12125550711"

    async def scenario(h: Harness) -> None:
        await h.sms(EMERGENCY_WORDS, phone)
        [case] = await h.cases()
        await h.tick()
        assert await h.staff_press(f"case:ack:{case.id}") == f"Case {case.id} acknowledged. Thank you."
        acknowledged = await h.case(case.id)
        assert (acknowledged.status, acknowledged.acknowledged_by) == ("acknowledged", "Ana")
        # The card is redrawn: who acknowledged it, and only Resolve left.
        edit = h.telegram.calls_to("editMessageText")[0].params
        assert edit["chat_id"] == STAFF_CHAT and "Acknowledged by Ana." in edit["text"]
        assert [b["callback_data"] for row in edit["reply_markup"]["inline_keyboard"] for b in row] == [
            f"case:resolve:{case.id}"
        ]
        assert h.telegram.calls_to("editMessageText")[0].status == 200  # the card really changed in the chat

        h.clock.advance(ACK_DEADLINE * 3)
        await h.tick()
        assert len(h.telegram.sent(STAFF_CHAT)) == 1 and len(h.sms_to(ONCALL[0])) == 1
        assert (await h.case(case.id)).pages == 1

        assert await h.staff_press(f"case:ack:{case.id}") == f"Case {case.id} was already acknowledged."
        again = await h.case(case.id)
        assert (again.status, again.acknowledged_by, again.acknowledged_at) == (
            "acknowledged",
            "Ana",
            acknowledged.acknowledged_at,
        )
        acks = [e for e in await h.audit() if e["kind"] == "escalation_acknowledged"]
        assert [e["case"] for e in acks] == [case.id]

        assert await h.staff_press(f"case:resolve:{case.id}") == f"Case {case.id} resolved."
        assert await h.cases() == []
        assert (await h.case(case.id)).status == "resolved"

    run(stack, scenario)


def test_a_press_from_a_patient_chat_cannot_acknowledge_a_case(stack: Stack) -> None:
    phone, chat = "+12125550721", 600721

    async def scenario(h: Harness) -> None:
        await h.sms(EMERGENCY_WORDS, phone)
        [case] = await h.cases()
        await h.tg_persona(chat, SELF_CARE)
        await h.tg(callback_update(next(_UPDATES), chat, f"case:ack:{case.id}", message_id=h.last_message_id(chat)))
        assert (await h.case(case.id)).status == "open"

    run(stack, scenario)


def test_oncall_sms_ack_acknowledges_the_case(stack: Stack) -> None:
    phone = "+12125550731"

    async def scenario(h: Harness) -> None:
        await h.sms(EMERGENCY_WORDS, phone)
        [case] = await h.cases()
        await h.tick()
        assert await h.sms(f"ACK {case.id}", ONCALL[0]) == [f"Case {case.id} acknowledged. Thank you."]
        acknowledged = await h.case(case.id)
        assert (acknowledged.status, acknowledged.acknowledged_by) == ("acknowledged", "on-call 1")
        assert await h.sms(f"ack {case.id.lower()}", ONCALL[1]) == [f"Case {case.id} was already acknowledged."]
        h.clock.advance(ACK_DEADLINE * 2)
        await h.tick()
        assert len(h.sms_to(ONCALL[0])) == 1 and h.sms_to(ONCALL[1]) == []
        assert len(h.telegram.sent(STAFF_CHAT)) == 1

    run(stack, scenario)


def test_delete_forgets_the_person_in_their_case_and_the_pages_stop(stack: Stack) -> None:
    phone = "+12125550741"

    async def scenario(h: Harness) -> None:
        await h.sms(EMERGENCY_WORDS, phone)
        [case] = await h.cases()
        assert case.participant == h.sms_participant(phone)
        await h.tick()  # paged: the staff chat's card, the first on-call number
        assert len(h.telegram.sent(STAFF_CHAT)) == 1 and len(h.sms_to(ONCALL[0])) == 1
        assert "deleted" in "".join(await h.sms("DELETE", phone))
        forgotten = await h.case(case.id)
        assert (forgotten.participant, forgotten.contact) == ("", None) and forgotten.deleted_at is not None
        # In place of the next page, one notice: to the staff chat and to the number paged last.
        await h.tick()
        notice = h.telegram.sent(STAFF_CHAT)[-1]["text"]
        assert f"Case {case.id}: the person deleted their data." in notice and phone not in notice
        assert f"Case {case.id}: the person deleted their data." in h.sms_to(ONCALL[0])[-1]
        # Then nothing more, however long nobody acknowledges it; staff still see the case, marked deleted.
        for _ in range(3):
            h.clock.advance(ACK_DEADLINE + timedelta(seconds=1))
            await h.tick()
        assert len(h.telegram.sent(STAFF_CHAT)) == 2 and len(h.sms_to(ONCALL[0])) == 2 and h.sms_to(ONCALL[1]) == []
        assert [c.id for c in await h.cases()] == [case.id]
        # Resolving it keeps nothing of the person either.
        assert await h.staff_press(f"case:resolve:{case.id}") == f"Case {case.id} resolved."
        stored = await h.client.hgetall(keys.case(case.id))
        assert b"participant" not in stored and b"contact" not in stored

    run(stack, scenario)


def test_after_delete_nothing_about_the_person_is_written(stack: Stack) -> None:
    chat = 600751

    async def scenario(h: Harness) -> None:
        await h.tg_text(chat, "/start")
        await h.tg_text(chat, "my calf is swollen and I can't breathe")  # a case, with a page due
        await h.tg_text(chat, "/delete")  # the webhook answers once its reply is sent (and recorded, if it were)
        assert "deleted" in h.telegram.sent(chat)[-1]["text"]
        await h.tick()  # the pager's notice in place of a page
        participant = h.tg_participant(chat)
        stored = await everything_stored(h.client)
        for key, value in stored.items():
            for needle in (participant, participant[3:], str(chat)):
                assert needle not in key and needle not in value, (key, value[:200])

    run(stack, scenario)


def test_a_verbatim_replay_after_delete_starts_nothing(stack: Stack) -> None:
    phone = "+12125550761"

    async def scenario(h: Harness) -> None:
        red_flag = sms_form(EMERGENCY_WORDS, phone)
        assert (await h.post_sms(red_flag))[0].startswith("Call 911 now.")
        [case] = await h.cases()
        await h.tick()
        await h.sms("DELETE", phone)
        await h.tick()  # the deletion notice
        sent = (len(h.telegram.sent(STAFF_CHAT)), len(h.twilio.messages))
        assert await h.post_sms(red_flag) == []  # Twilio's retry, or anyone's replay of the signed request
        assert await h.services.service.session(h.sms_participant(phone)) is None
        assert [c.id for c in await h.cases()] == [case.id]
        h.clock.advance(ACK_DEADLINE * 2)
        await h.tick()
        assert (len(h.telegram.sent(STAFF_CHAT)), len(h.twilio.messages)) == sent  # and no page

    run(stack, scenario)


def test_a_verbatim_replay_days_later_starts_nothing(stack: Stack) -> None:
    phone = "+12125550771"

    async def scenario(h: Harness) -> None:
        red_flag = sms_form(EMERGENCY_WORDS, phone)
        await h.post_sms(red_flag)
        [case] = await h.cases()
        await h.tick()
        await h.staff_press(f"case:resolve:{case.id}")
        participant = h.sms_participant(phone)
        before = await h.services.service.session(participant)
        # Three days on, the message's replies are no longer kept (their record's TTL, as Redis expires it).
        seen = keys.seen(participant, "sms:" + red_flag["MessageSid"])
        assert 0 < await h.client.pttl(seen) <= 3 * 86_400_000
        await h.client.delete(seen)
        assert await h.post_sms(red_flag) == []
        assert await h.services.service.session(participant) == before
        assert await h.cases() == []  # no new case
        await h.tick()
        assert not any(case.id not in m for m in h.sms_to(ONCALL[0]))  # no page but the first

    run(stack, scenario)


# --- 8. opted out at the provider -----------------------------------------------------------------------------------


def test_telegram_403_on_a_checkin_opts_the_person_out(stack: Stack) -> None:
    chat = 600801

    async def scenario(h: Harness) -> None:
        await h.tg_persona(chat, SELF_CARE)
        participant = h.tg_participant(chat)
        sent = len(h.telegram.sent(chat))
        h.telegram.chat(chat).blocked = True
        h.clock.advance(timedelta(hours=49))
        assert await h.tick() == 1
        assert h.worker.checkins.outcomes == {"opted_out": 1}
        assert len(h.telegram.sent(chat)) == sent
        session = await h.services.service.session(participant)
        assert session is not None and session.status is SessionStatus.stopped
        assert await h.pending(participant) == []
        h.clock.advance(timedelta(days=7))
        assert await h.tick() == 0
        assert ("opted_out", "telegram") in [(e["kind"], e.get("channel")) for e in await h.audit()]

    run(stack, scenario)


def test_twilio_21610_on_a_checkin_opts_the_person_out(stack: Stack) -> None:
    phone = "+12125550802"

    async def scenario(h: Harness) -> None:
        await h.sms_persona(phone, SELF_CARE)
        participant = h.sms_participant(phone)
        h.twilio.unsubscribed.add(phone)
        attempts = h.twilio.attempts
        h.clock.advance(timedelta(hours=49))
        assert await h.tick() == 1
        assert h.worker.checkins.outcomes == {"opted_out": 1}
        assert h.twilio.attempts == attempts + 1 and h.sms_to(phone) == []
        session = await h.services.service.session(participant)
        assert session is not None and session.status is SessionStatus.stopped
        assert await h.pending(participant) == []
        h.clock.advance(timedelta(days=7))
        assert await h.tick() == 0
        assert h.twilio.attempts == attempts + 1
        assert ("opted_out", "sms") in [(e["kind"], e.get("channel")) for e in await h.audit()]

    run(stack, scenario)


# --- 9. HUMAN -------------------------------------------------------------------------------------------------------


def test_human_opens_a_case_and_says_the_clinic_team_was_told(stack: Stack) -> None:
    midway, after = "+12125550901", "+12125550902"

    async def scenario(h: Harness) -> None:
        await h.sms("hi", midway)
        assert "Do you agree to share them with the clinic?" in "\n".join(await h.sms("HUMAN", midway))
        reply = "\n".join(await h.sms("2", midway))  # no: the case without their number or messages
        assert "I have let the clinic team know you would like to talk to someone" in reply
        assert CHOICE_PROMPTS["emergency_signs"] in reply  # and the question it was on, again
        [case] = await h.cases()
        assert (case.reason, case.level, case.status) == ("human", "unassessed", "open")

        await h.sms_persona(after, SELF_CARE)
        await h.sms("talk to someone", after)
        reply = "\n".join(await h.sms("no", after))
        assert "I have let the clinic team know" in reply
        assert sorted((c.reason, c.level) for c in await h.cases()) == [("human", "self_care"), ("human", "unassessed")]

        await h.tick()
        cards = [m["text"] for m in h.telegram.sent(STAFF_CHAT)]
        assert len(cards) == 2 and all("Asked to talk to someone." in text for text in cards)
        opened = [(e["reason"], e["level"]) for e in await h.audit() if e["kind"] == "escalation_opened"]
        assert sorted(opened) == [("human", "self_care"), ("human", "unassessed")]

    run(stack, scenario)


def test_a_second_escalation_updates_the_persons_open_case_and_pages_again_only_when_raised(stack: Stack) -> None:
    phone = "+12125550911"

    async def scenario(h: Harness) -> None:
        await h.sms_persona(phone, URGENT)
        [case] = await h.cases()
        assert case.level == "urgent"
        await h.tick()  # page 1 about the urgent case
        await h.sms("HUMAN", phone)  # asking for a person while the case is open: the same case, no new page
        await h.sms("no", phone)
        assert [c.id for c in await h.cases()] == [case.id]
        await h.tick()
        assert len(h.telegram.sent(STAFF_CHAT)) == 1

        await h.sms(EMERGENCY_WORDS, phone)  # the level goes up: the same case, raised, paged again
        [raised] = await h.cases()
        assert (raised.id, raised.level) == (case.id, "emergency")
        await h.tick()
        assert len(h.telegram.sent(STAFF_CHAT)) == 2
        whats = [e["kind"] for e in await h.audit() if e["kind"].startswith("escalation_")]
        assert whats == ["escalation_opened", "escalation_same", "escalation_raised"]

    run(stack, scenario)


# --- 10. the audit trail --------------------------------------------------------------------------------------------


def test_the_audit_trail_records_the_decisions_and_no_identifier_or_text(stack: Stack) -> None:
    phone, chat, emergency_phone = "+12125551001", 987650001, "+12125551002"
    typed = [EMERGENCY_WORDS, "worse, and now I'm short of breath", "talk to someone"]

    async def scenario(h: Harness) -> None:
        await h.sms_persona(phone, SELF_CARE)
        await h.tg_persona(chat, SELF_CARE)
        await h.sms(EMERGENCY_WORDS, emergency_phone)
        await h.tick()  # the emergency's page
        h.clock.advance(timedelta(hours=48) + SPREAD)
        await h.tick()  # both check-ins
        await h.sms("1", phone)
        await h.tg_text(chat, typed[1])
        await h.sms(typed[2], phone)
        await h.sms("yes", phone)  # consent: the person's words go to the case, never to the audit trail
        await h.sms("my daughter drives me there", phone)
        await h.tick()

        trail = await h.audit()
        kinds = {e["kind"] for e in trail}
        for kind in ("assessment", "interrupt", "checkin_scheduled", "checkin_sent", "checkin_answered"):
            assert kind in kinds
        for kind in ("escalation_opened", "page_sent", "human_requested"):
            assert kind in kinds
        assert {e["level"] for e in trail if e["kind"] == "assessment"} == {"self_care"}

        assert set().union(*(e.keys() for e in trail)) <= ALLOWED_FIELDS | {"id", "kind", "at"}
        dump = repr([{k: v for k, v in e.items() if k != "id"} for e in trail])
        participants = [h.sms_participant(phone), h.sms_participant(emergency_phone), h.tg_participant(chat)]
        numbers = [phone, emergency_phone, *ONCALL, FROM]
        forbidden = [
            *numbers,
            *(n.lstrip("+") for n in numbers),
            *(n[-10:] for n in numbers),
            str(chat),
            str(STAFF_CHAT),
            *participants,
            "sms-",
            "tg-",
            *typed,
            "calf is swollen",
            "daughter",
        ]
        for needle in forbidden:
            assert needle not in dump, needle
        assert all(str(chat) not in e["id"] for e in trail)

    run(stack, scenario)
