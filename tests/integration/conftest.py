"""The integration tests' one set-up of settings and fakes: settings that never read a local `.env`, the fake
Telegram Bot API and Twilio API served on loopback, signed webhooks, and waiting on a condition with a deadline."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from bot.app.settings import Settings
from bot.channels.sms import SmsChannel
from bot.channels.telegram import TelegramChannel
from tests.conftest import ID_SECRET
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.integration.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi

PUBLIC = "https://kneebot.example.org"
SECRET = "test-webhook-secret"
FROM_NUMBER = "+15005550006"
TELEGRAM_PATH, SMS_PATH = TelegramChannel.path, SmsChannel.path


def settings_for(
    *, redis_url: str | None = None, telegram_api: str | None = None, twilio_api: str | None = None, **overrides: Any
) -> Settings:
    """Settings for a test, from nothing but these arguments (never a `.env` in the working folder): Telegram when
    `telegram_api` (a fake Bot API's URL) is given, Twilio's channels when `twilio_api` is."""
    values: dict[str, Any] = {"_env_file": None, "public_base_url": PUBLIC, "id_hash_secret": SecretStr(ID_SECRET)}
    if redis_url is not None:
        values["redis_url"] = redis_url
    if telegram_api is not None:
        values |= {
            "telegram_bot_token": SecretStr(TOKEN),
            "telegram_webhook_secret": SecretStr(SECRET),
            "telegram_api_base_url": telegram_api + "/bot",
        }
    if twilio_api is not None:
        values |= {
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_from_number": FROM_NUMBER,
            "twilio_api_base_url": twilio_api,
        }
    return Settings(**(values | overrides))


@dataclass
class Fakes:
    telegram: FakeTelegramAPI
    twilio: FakeTwilioApi
    telegram_url: str
    twilio_url: str

    def settings(self, redis_url: str | None = None, **overrides: Any) -> Settings:
        return settings_for(
            redis_url=redis_url, telegram_api=self.telegram_url, twilio_api=self.twilio_url, **overrides
        )


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    """Fresh fake Telegram and Twilio APIs, served for the test."""
    telegram, twilio = FakeTelegramAPI(), FakeTwilioApi()
    with ServedApp(telegram.app) as tg_served, ServedApp(twilio.app) as tw_served:
        yield Fakes(telegram, twilio, tg_served.url, tw_served.url)


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0, every_s: float = 0.01) -> None:
    """Poll `condition` until it holds; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every_s)


def twilio_sid(label: str) -> str:
    """A MessageSid of Twilio's form (SM and 32 hex digits), the same for the same label."""
    return "SM" + hashlib.md5(label.encode()).hexdigest()


def signature(form: Mapping[str, str], path: str = SMS_PATH) -> str:
    """Twilio's X-Twilio-Signature of a webhook to PUBLIC + `path`."""
    return str(RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, dict(form)))


def post_signed(url: str, form: Mapping[str, str], path: str = SMS_PATH, timeout_s: float = 30) -> httpx.Response:
    """A Twilio webhook to the server at `url`, signed as Twilio signs it."""
    headers = {"X-Twilio-Signature": signature(form, path)}
    return httpx.post(url + path, data=dict(form), headers=headers, timeout=timeout_s)


def post_update(url: str, update: dict[str, Any], secret: str | None = SECRET, timeout_s: float = 30) -> httpx.Response:
    """A Telegram update to the server at `url`, with the webhook's secret token (None: without one)."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(url + TELEGRAM_PATH, json=update, headers=headers, timeout=timeout_s)
