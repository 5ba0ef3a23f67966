"""Fuzz the real server's webhooks (uvicorn, loopback, private redis-server): bad input is refused, never a 500."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from bot.app.server import MAX_BODY, create_app
from tests.integration.conftest import PUBLIC, SECRET, SMS_PATH, TELEGRAM_PATH, Fakes
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.integration.fakes.twilio_api import AUTH_TOKEN, FakeTwilioApi

ALLOWED = {200, 400, 403}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


class ErrorRecords(logging.Handler):
    """Everything logged at ERROR or above while the server runs (uvicorn's "Exception in ASGI application",
    a failed background delivery): a crash the response alone would not show."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._lock_records = threading.Lock()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self.records.append(record)

    def drain(self) -> list[str]:
        with self._lock_records:
            records, self.records = self.records, []
        return [self.format(r) for r in records]


class NoDelayServedApp(ServedApp):
    """ServedApp with TCP_NODELAY on its listening socket (accepted sockets inherit it). asyncio sets it only on
    sockets it creates itself (proto IPPROTO_TCP); without it, a response written in two parts (headers, then a
    body) waits for the client's delayed ACK: about 40 ms for every 400 and every TwiML answer."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class Served:
    client: httpx.Client
    errors: ErrorRecords

    def telegram(self, body: bytes, content_type: str = "application/json") -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": content_type}
        return self.check(self.client.post(TELEGRAM_PATH, content=body, headers=headers), body)

    def sms(self, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> httpx.Response:
        # Signed over what the server will see (it decodes bytes with replacement), as Twilio signs what it sent.
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
        headers = {"X-Twilio-Signature": signature, "Content-Type": content_type}
        return self.check(self.client.post(SMS_PATH, content=body, headers=headers), body)

    def check(self, response: httpx.Response, body: bytes) -> httpx.Response:
        sent = body[:300]
        assert response.status_code in ALLOWED, f"{response.status_code} for {sent!r}: {response.text[:300]!r}"
        assert "Traceback" not in response.text and 'File "' not in response.text, response.text[:300]
        assert self.errors.drain() == [], f"the server logged an error for {sent!r}"
        return response


@pytest.fixture(scope="module")
def served(redis_server: Any) -> Iterator[Served]:
    redis_server.start()
    redis_server.flushall()
    errors = ErrorRecords()
    errors.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger().addHandler(errors)
    telegram, twilio = FakeTelegramAPI(), FakeTwilioApi()
    try:
        with ServedApp(telegram.app) as tg_served, ServedApp(twilio.app) as tw_served:
            fakes = Fakes(telegram, twilio, tg_served.url, tw_served.url)
            config = fakes.settings(redis_server.url, telegram_delivery_budget_s=0.5)
            config.check_for_server()
            with NoDelayServedApp(create_app(config)) as app, httpx.Client(base_url=app.url, timeout=10) as client:
                yield Served(client, errors)
    finally:
        logging.getLogger().removeHandler(errors)


# --- Telegram: arbitrary JSON, mutated real updates, huge numbers, deep nesting, non-JSON bytes ---------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
real_updates = st.builds(
    lambda n, chat, kind, lang: {
        "text": message_update(n, chat, "my calf is swollen", language_code=lang),
        "command": message_update(n, chat, "/language es", language_code=lang),
        "start": message_update(n, chat, "/start"),
        "photo": message_update(
            n, chat, None, photo=[{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]
        ),
        "caption": message_update(n, chat, None, caption="can't breathe", sticker={"file_id": "s"}),
        "group": message_update(n, -chat, "hello", chat_type="supergroup"),
        "button": callback_update(n, chat, "emergency_signs:none", message_id=1, language_code=lang),
        "bad_button": callback_update(n, chat, "no-such-node:nothing", message_id=2),
    }[kind],
    st.integers(min_value=1, max_value=2**31),
    st.integers(min_value=1, max_value=2**40),
    st.sampled_from(["text", "command", "start", "photo", "caption", "group", "button", "bad_button"]),
    st.sampled_from(["en", "es", "pt-br", None]),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _paths(item, (*prefix, index))
    return paths


@st.composite
def mutated_updates(draw: st.DrawFn) -> Any:
    update: Any = draw(real_updates)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(update)))
        if not path:
            update = draw(json_values)
            continue
        parent = update
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    return update


@given(value=json_values)
@FUZZ
def test_telegram_any_json_value(served: Served, value: Any) -> None:
    served.telegram(json.dumps(value).encode())


@given(update=mutated_updates())
@FUZZ
def test_telegram_mutated_real_update(served: Served, update: Any) -> None:
    served.telegram(json.dumps(update).encode())


@given(
    body=st.binary(max_size=600) | st.text(max_size=200).map(str.encode),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
)
@FUZZ
def test_telegram_bytes_that_are_not_an_update(served: Served, body: bytes, content_type: str) -> None:
    served.telegram(body, content_type)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe\x00{",
        b'{"update_id": 1, "message": {"text": "\xed\xa0\x80"}}',  # a UTF-16 surrogate encoded as UTF-8
        b'{"update_id": 1' + b"9" * 5000 + b"}",  # more digits than Python converts to an int
        b'{"update_id": 1e400, "message": {}}',
        b'{"update_id": NaN}',
        b'{"update_id": 1, "update_id": 2}',
        b"[" + b" " * (MAX_BODY + 10) + b"]",  # over the body limit
    ],
    ids=["empty", "not-utf8", "surrogate", "5000-digit-int", "float-overflow", "nan", "duplicate-key", "too-large"],
)
def test_telegram_odd_bodies(served: Served, body: bytes) -> None:
    served.telegram(body)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\x00" * 50, "\u202e" + "9" * 4000])
def test_telegram_message_text_that_is_hard_to_store(served: Served, text: str) -> None:
    update = message_update(987_654, 31337, None)
    update["message"]["text"] = text
    served.telegram(json.dumps(update).encode())  # json.dumps escapes lone surrogates as \ud800


@pytest.mark.parametrize("depth", [50, 500, 5_000, 30_000])
@pytest.mark.parametrize("bracket", ["[]", "{}"])
def test_telegram_deeply_nested_update(served: Served, depth: int, bracket: str) -> None:
    opening = b"[" if bracket == "[]" else b'{"a":'
    closing = b"]" if bracket == "[]" else b"}"
    nested = opening * depth + b"1" + closing * depth
    served.telegram(b'{"update_id": 5, "message": ' + nested + b"}")


@given(
    chat=st.integers(min_value=-(10**30), max_value=10**30), update_id=st.integers(min_value=-(2**70), max_value=2**70)
)
@FUZZ
def test_telegram_huge_ids(served: Served, chat: int, update_id: int) -> None:
    served.telegram(json.dumps(message_update(update_id, chat, "/start")).encode())


# --- Twilio: random fields, missing From / MessageSid, odd encodings, all correctly signed -----------------------

phone_like = (
    st.from_regex(r"\A\+?[0-9 ()+-]{0,24}\Z")
    | st.text(max_size=30)
    | st.sampled_from(
        ["+14155550123", "+442071838750", "+5215512345678", "whatsapp:+14155550123", "+1", "+999999999999999", ""]
    )
)
base_forms = st.fixed_dictionaries(
    {},
    optional={
        "From": phone_like,
        "To": phone_like,
        "Body": st.text(max_size=200) | st.sampled_from(["STOP", "start", " help ", "1", "si", "I can't breathe"]),
        "MessageSid": st.text(max_size=40) | st.from_regex(r"\ASM[0-9a-f]{32}\Z"),
        "NumMedia": st.text(max_size=5) | st.sampled_from(["0", "1", "-1", "99999999999999999999", "1e3"]),
        "FromCountry": st.text(max_size=4),
    },
)


@given(form=base_forms, extra=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=5))
@FUZZ
def test_sms_random_forms(served: Served, form: dict[str, str], extra: dict[str, str]) -> None:
    served.sms(urlencode({**extra, **form}).encode())


@given(
    body=st.binary(max_size=400)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.text(max_size=80).map(
        lambda t: ("From=%2B14155550123&MessageSid=SM" + "a" * 32 + "&Body=" + t).encode("latin-1", "replace")
    )
    | st.binary(max_size=40).map(
        lambda b: b"From=%2B14155550123&MessageSid=SM" + b"b" * 32 + b"&Body=" + quote(b).encode()
    )
    | st.sampled_from([b"", b"&&&", b"=", b"From", b"From=&MessageSid=", b"From=%zz&MessageSid=%", b"a=1;b=2"]),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "multipart/form-data", ""]),
)
@FUZZ
def test_sms_odd_encodings(served: Served, body: bytes, content_type: str) -> None:
    served.sms(body, content_type)


def test_sms_body_over_the_limit(served: Served) -> None:
    assert (
        served.sms(b"From=%2B14155550123&MessageSid=SM" + b"c" * 32 + b"&Body=" + b"a" * (MAX_BODY + 1)).status_code
        == 400
    )


def test_nothing_logged_at_error_after_the_fuzz(served: Served) -> None:
    # Deliveries that outlive their webhook's budget finish in the background; any that crashed would show here.
    served.check(served.client.get("/healthz"), b"")
