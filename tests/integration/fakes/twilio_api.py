"""A fake Twilio REST API for integration tests: Messages.json only, Twilio-shaped answers, messages kept.

WhatsApp as Twilio runs it: a message to a `whatsapp:` address is free text only within 24 hours of the person's
last message (the test says when that was, `wrote`, on the clock it gives, `now`); outside that window only a
Content API template (ContentSid and ContentVariables) is accepted, and free text gets error 63016."""

from __future__ import annotations

import base64
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels.segments import segments

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-auth-token"
MAX_BODY = 1600


WHATSAPP = "whatsapp:"
WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW = 63016  # "Failed to send freeform message because you are outside the allowed window"


@dataclass(frozen=True)
class SentMessage:
    sid: str
    to: str
    from_: str
    body: str
    received_at: datetime
    content_sid: str | None = None  # a Content API template, with its variables
    content_variables: dict[str, str] | None = None


class FakeTwilioApi:
    """`app` serves POST /2010-04-01/Accounts/{sid}/Messages.json. Messages to `unsubscribed` numbers get
    error 21610. With `delay_s`, a message is recorded at once and answered late, so a client that gives up
    may still have sent it, as with the real API. The app runs in a server thread; tests read `messages`."""

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        unsubscribed: Iterable[str] = (),
        delay_s: float = 0.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.unsubscribed = set(unsubscribed)
        self.delay_s = delay_s
        self.now = now
        self._wrote: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._messages: list[SentMessage] = []
        self._attempts = 0
        route = Route("/2010-04-01/Accounts/{account_sid}/Messages.json", self._create, methods=["POST"])
        self.app = Starlette(routes=[route])

    @property
    def messages(self) -> list[SentMessage]:
        """Accepted messages, in the order they arrived."""
        with self._lock:
            return list(self._messages)

    def wrote(self, address: str, at: datetime) -> None:
        """The WhatsApp user at `address` wrote to us at `at`: their 24-hour window opens again."""
        with self._lock:
            self._wrote[address] = at

    @property
    def attempts(self) -> int:
        """Every POST, refused ones included."""
        with self._lock:
            return self._attempts

    async def _create(self, request: Request) -> JSONResponse:
        with self._lock:
            self._attempts += 1
        if not self._authorised(request.headers.get("authorization", "")):
            return _error(401, 20003, "Authenticate", headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if request.path_params["account_sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        # Parsed here rather than with request.form(), which needs python-multipart.
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        to, from_, body, content_sid = (form.get(name, "") for name in ("To", "From", "Body", "ContentSid"))
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body and not content_sid:
            return _error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if to in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if to.startswith(WHATSAPP) != from_.startswith(WHATSAPP):
            return _error(400, 21910, "Invalid From and To pair. From and To should be of the same channel.")
        variables = json.loads(form.get("ContentVariables") or "{}") if content_sid else None
        if to.startswith(WHATSAPP) and not content_sid and not self._window_open(to):
            return _error(
                400, OUTSIDE_WINDOW, "Failed to send freeform message because you are outside the allowed window."
            )
        message = SentMessage(
            "SM" + uuid.uuid4().hex, to, from_, body, datetime.now(UTC), content_sid or None, variables
        )
        with self._lock:
            self._messages.append(message)
        if self.delay_s > 0:
            await _wait_or_disconnect(request, self.delay_s)
        return JSONResponse(self._resource(message), status_code=201)

    def _window_open(self, to: str) -> bool:
        with self._lock:
            wrote = self._wrote.get(to)
        return wrote is not None and self.now() - wrote < WINDOW

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except ValueError:
            return False
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        return hmac.compare_digest(given, expected)

    def _resource(self, message: SentMessage) -> dict[str, object]:
        created = format_datetime(message.received_at)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message.body,
            "date_created": created,
            "date_sent": None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(segments(message.body)),
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": message.to,
            "uri": f"{uri}.json",
        }


async def _wait_or_disconnect(request: Request, delay_s: float) -> None:
    # Ends early when the client hangs up, so a test that timed out does not hold the server's shutdown.
    with anyio.move_on_after(delay_s):
        while (await request.receive())["type"] != "http.disconnect":
            pass


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(payload, status_code=status, headers=headers)
