"""The real server with its staff console (uvicorn on loopback, a real redis-server, the fake Telegram and Twilio
APIs) for the console's HTTP and browser tests; staff accounts made as `kneebot staff add` makes them."""

from __future__ import annotations

import asyncio
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import redis.asyncio
from pydantic import SecretStr
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from bot.app.server import create_app
from bot.app.settings import Settings
from bot.app.simulate import persona_answer
from bot.app.wiring import Services, make_channels
from bot.app.worker import Worker
from bot.console.passwords import Passwords
from bot.content.loader import load_content
from bot.storage.accounts import AccountStore
from bot.storage.audit import AuditLog
from bot.storage.cases import Case, CaseStore
from bot.triage.findings import Findings
from tests.conftest import ID_SECRET
from tests.integration.conftest import SMS_PATH, TELEGRAM_PATH, settings_for
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import FakeTelegramAPI
from tests.integration.fakes.twilio_api import AUTH_TOKEN, FakeTwilioApi

T = TypeVar("T")
SECRET = "s3cret-webhook-token"
CONSOLE_SECRET = "console-secret-for-tests-0123456789-abcdefghij"
FROM = "+15005550006"
STAFF_CHAT = -100777
ONCALL = "+15550001111"
PASSWORD = "correct horse battery staple"
LEAD, STAFF = "lead@clinic.example", "nurse@clinic.example"
RED_FLAG_SMS = "my calf is swollen and I can't breathe"
START = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)  # a Thursday; 10:00 in the clinic (America/New_York)
_SIDS = itertools.count(1)
CONTENT = load_content()


class MovableClock:
    """The server's clock: fixed unless the test moves it, so pages show the times the test chose."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class ConsoleStack:
    url: str
    settings: Settings
    clock: MovableClock
    telegram: FakeTelegramAPI
    twilio: FakeTwilioApi
    redis_url: str
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def console(self) -> str:
        return self.url + "/staff"

    def run(self, work: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        """`work` with a client of its own, in an event loop of its own on a thread of its own (the server runs in
        another thread, and Playwright's sync API keeps its own loop running in the test's)."""

        async def main() -> T:
            client = redis.asyncio.Redis.from_url(self.redis_url)
            try:
                return await work(client)
            finally:
                await client.aclose()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, main()).result()

    def add_account(self, email: str, role: str, password: str = PASSWORD, passwords: Passwords | None = None) -> None:
        hashed = (passwords or Passwords()).hash(password)

        async def add(client: redis.asyncio.Redis) -> bool:
            return await AccountStore(client, ID_SECRET.encode()).add(email, role, hashed, self.clock.now())

        assert self.run(add)

    def cases(self) -> list[Case]:
        return self.run(lambda client: CaseStore(client).unresolved())

    def case(self, case_id: str) -> Case | None:
        return self.run(lambda client: CaseStore(client).get(case_id))

    def audit(self) -> list[dict[str, str]]:
        async def read(client: redis.asyncio.Redis) -> list[dict[str, str]]:
            return [entry async for entry in AuditLog(client).export()]

        return self.run(read)

    def sms(self, body: str, sender: str) -> list[str]:
        """A signed Twilio webhook; the texts of its TwiML reply."""
        form = {"From": sender, "To": FROM, "Body": body, "MessageSid": f"SM{next(_SIDS):032d}", "NumMedia": "0"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(self.settings.public_base_url + SMS_PATH, form)
        response = httpx.post(self.url + SMS_PATH, data=form, headers={"X-Twilio-Signature": signature}, timeout=15)
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    def sms_persona(self, facts: dict[str, Any], sender: str) -> list[str]:
        """Answer the intake by SMS as a clinical vignette's persona would; the outcome's messages."""
        persona, intake = Findings.model_validate(facts), CONTENT.intake
        prompts = {n: CONTENT.catalog.raw(intake.prompt_key(n), "en") for n, node in intake.nodes.items()
                   if node.kind != "assessment"}  # fmt: skip
        reply = self.sms("hi", sender)
        for _ in range(30):
            node = next((n for n, prompt in prompts.items() if prompt in reply[-1]), None)
            if node is None:
                return reply
            answer = persona_answer(intake, node, persona)
            if intake.nodes[node].choices:
                answer = str([c.id for c in intake.nodes[node].choices].index(answer) + 1)
            reply = self.sms("not sure" if answer == "unsure" else answer, sender)
        raise AssertionError("the SMS conversation did not end")

    def page(self) -> int:
        """One pass of a worker's pager (on the server's clock): the cards and on-call texts due now."""

        async def tick(client: redis.asyncio.Redis) -> int:
            channels = make_channels(self.settings, CONTENT, per_process_limiter=False)
            await channels.start()
            services = Services.build(self.settings, CONTENT, client, self.clock, channels)
            try:
                return await Worker(services).pager.page_due()
            finally:
                await channels.stop()

        return self.run(tick)

    def tg(self, update: dict[str, Any]) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        return httpx.post(self.url + TELEGRAM_PATH, json=update, headers=headers, timeout=15)

    def client(self) -> httpx.Client:
        """A client of the console, as a browser with no session yet; closed by `close_clients`."""
        client = httpx.Client(base_url=self.console, follow_redirects=False, timeout=15)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()

    def signed_in(self, email: str, password: str = PASSWORD) -> httpx.Client:
        """A client with a session (as a browser after the sign-in form)."""
        client = self.client()
        response = sign_in(client, email, password)
        assert response.status_code == 303, response.text
        return client


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = form_token(client.get("/signin").text)
    return client.post("/signin", data={"csrf": token, "email": email, "password": password})


def form_token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found[1]


def console_settings(redis_url: str, tg_url: str, tw_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "public_base_url": "http://kneebot.test",
        "telegram_webhook_secret": SecretStr(SECRET),
        "twilio_from_number": FROM,
        "staff_telegram_chat_id": STAFF_CHAT,
        "oncall_sms_numbers": ONCALL,
        "console_secret": SecretStr(CONSOLE_SECRET),
        "clinic_time_zone": "America/New_York",
        "telegram_delivery_budget_s": 0.3,
    }
    settings = settings_for(redis_url=redis_url, telegram_api=tg_url, twilio_api=tw_url, **(values | overrides))
    settings.check_for_server()
    return settings


@contextmanager
def serve_console(redis_url: str, **overrides: Any) -> Iterator[ConsoleStack]:
    telegram, twilio = FakeTelegramAPI(), FakeTwilioApi()
    clock = MovableClock(START)
    with ServedApp(telegram.app) as tg_served, ServedApp(twilio.app) as tw_served:
        settings = console_settings(redis_url, tg_served.url, tw_served.url, **overrides)
        app = create_app(settings, content=CONTENT, clock=clock)
        with ServedApp(app) as served:
            yield ConsoleStack(served.url, settings, clock, telegram, twilio, redis_url)
