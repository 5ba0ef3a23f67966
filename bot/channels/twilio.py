"""Twilio, as SMS and WhatsApp share it: the incoming-message webhook's form and its signature, sender numbers,
TwiML, and the REST client that sends (the Messages resource, free text or a Content API template).

Not a channel: bot/channels/sms.py and bot/channels/whatsapp.py are, each with its own route, address form and
participant prefix.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote
from xml.sax.saxutils import escape

import aiohttp
import phonenumbers
from twilio.base.exceptions import TwilioRestException, TwilioServiceException  # type: ignore[import-untyped, unused-ignore]
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped, unused-ignore]
from twilio.http.response import Response  # type: ignore[import-untyped, unused-ignore]
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]
from twilio.rest import Client  # type: ignore[import-untyped, unused-ignore]

from bot.channels.base import FormError, Message, OptedOut, SendFailed, WebhookReply
from bot.triage.events import CommandReceived, Event, MessageReceived

TWILIO_API = "https://api.twilio.com"
SIGNATURE_HEADER = "x-twilio-signature"
# Twilio's message ids: SM (an SMS) or MM (an MMS) and 32 hex digits. Held to that form because Twilio's signature
# runs names and values together: a signed form with one parameter renamed into another's value (the next parameter's
# name and value run into MessageSid's) still verifies, and would otherwise pass as a new message.
_MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
_SID_ALIASES = ("SmsMessageSid", "SmsSid")  # the same id under its older names, when Twilio sends them
UNSUBSCRIBED = 21610  # Twilio: "Attempt to send to unsubscribed recipient"

# Twilio acts on these words itself (Advanced Opt-Out) and still forwards the message, so they are matched as
# Twilio matches them: the whole message, any case. Every other command word is matched in the core.
CARRIER_KEYWORDS: Mapping[str, str] = {
    **dict.fromkeys(["stop", "stopall", "unsubscribe", "cancel", "end", "quit"], "stop"),
    **dict.fromkeys(["start", "unstop"], "start"),
    **dict.fromkeys(["help", "info"], "help"),
}

# Regions whose people mostly read Spanish. PR is included: phonenumbers tells it from the US by area code
# (787, 939) although both share +1. GQ is included too (Spanish is its main official language).
SPANISH_REGIONS = frozenset(
    ("MX", "GT", "SV", "HN", "NI", "CR", "PA", "CU", "DO", "PR")
    + ("CO", "VE", "EC", "PE", "BO", "CL", "AR", "PY", "UY")
    + ("ES", "GQ")
)


class TwilioSendError(SendFailed):
    """Twilio refused or could not take a message. Carries codes only: Twilio's text can quote the number."""

    def __init__(self, status: int | None, code: int | None) -> None:
        retryable = status is None or status == 429 or status >= 500
        super().__init__(f"twilio send failed: status={status} code={code}", 30.0 if retryable else 0)
        self.status = status
        self.code = code

    @property
    def retryable(self) -> bool:
        """No answer, a rate limit or a server error; a 4xx means the request itself is wrong."""
        return self.retry_after_s > 0


class Unsubscribed(OptedOut):
    """The person sent STOP to our number; Twilio delivers nothing more until they send START."""


@dataclass(frozen=True)
class Received:
    """What every Twilio incoming message has, checked: the sender (as `From` gives it), the message id, the body,
    and how many media it carries."""

    sender: str
    message_id: str
    body: str
    media: int
    form: Mapping[str, str]

    def event(self) -> tuple[Event | None, str | None]:
        """The engine's event (carrier keywords as Twilio matches them), or a notice key for a message without text."""
        command = CARRIER_KEYWORDS.get(self.body.strip().casefold())
        if command is not None:
            return CommandReceived(command), None
        if not self.body.strip() and self.media > 0:
            return None, "notice.unsupported"
        return MessageReceived(self.body), None


class _BaseUrlHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's REST client has no base-URL setting (edge and region still name *.twilio.com hosts), so
    tests reach a fake API by rewriting the URL prefix here. It also applies the client-wide timeout, which
    AsyncTwilioHttpClient ignores (its aiohttp request would otherwise wait forever), and sends credentials
    as a header, because aiohttp 3.14 deprecates the BasicAuth that AsyncTwilioHttpClient builds."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__(timeout=timeout_s)
        self._base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API + "/"):
            url = self._base_url + url[len(TWILIO_API) :]
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {credentials}"}
        return await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


class TwilioAccount:
    """One Twilio account: the webhook's signature check and form, and sending from one of its numbers."""

    def __init__(self, account_sid: str, auth_token: str, *, api_base_url: str = TWILIO_API, timeout_s: float = 10.0):
        self._account_sid, self._auth_token = account_sid, auth_token
        self._api_base_url, self._timeout_s = api_base_url, timeout_s
        self._validator = RequestValidator(auth_token)
        self._key = auth_token.encode()
        self._last: tuple[bytes, dict[str, str]] = (b"", {})
        self._http: _BaseUrlHttpClient | None = None
        self._client: Client | None = None

    def form(self, body: bytes) -> dict[str, str]:
        """The webhook's form (the last one is remembered: it is read to check the signature, then to parse)."""
        if self._last[0] != body or not body:
            self._last = (body, parse_form(body))
        return self._last[1]

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """`url` is the public URL Twilio called (behind a proxy, not the one the server saw)."""
        return self.valid_signature(url, self.form(body), headers.get(SIGNATURE_HEADER))

    def valid_signature(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """A multidict with getlist (Starlette's ImmutableMultiDict) is checked with every value of a repeated
        field."""
        if not signature:
            return False
        # The usual case first: Twilio signed exactly this URL, and the form is a plain dict (one value a field),
        # signed here as the library signs it in a fifth of its time. The library's validate() then also tries the
        # URL with and without a default port, signing twice; it only runs when the first check fails.
        expected = (
            sha1_signature(self._key, url, params)
            if type(params) is dict
            else self._validator.compute_signature(url, params)
        )
        if hmac.compare_digest(expected, signature):
            return True
        return bool(self._validator.validate(url, params, signature))

    def received(self, body: bytes) -> Received:
        """Raises FormError for a form no Twilio message has: no sender or id, or an id not of Twilio's form (or
        differing from its older names)."""
        form = self.form(body)
        sender = form.get("From", "").strip()
        message_id = form.get("MessageSid", "").strip()
        if not sender or not message_id:
            raise FormError("webhook lacks From or MessageSid")
        if not _MESSAGE_SID.fullmatch(message_id):
            raise FormError("MessageSid is not SM or MM and 32 hex digits")
        if any(alias in form and form[alias].strip() != message_id for alias in _SID_ALIASES):
            raise FormError("SmsMessageSid differs from MessageSid")
        return Received(sender, message_id, form.get("Body", ""), _num_media(form), form)

    async def send(
        self,
        to: str,
        from_: str,
        *,
        body: str | None = None,
        content_sid: str | None = None,
        content_variables: Mapping[str, str] | None = None,
    ) -> None:
        """One message: a body, or a Content API template (`content_sid`, its variables filled)."""
        client = self._rest_client()
        fields: dict[str, object] = {"to": to, "from_": from_}
        if content_sid is not None:
            fields["content_sid"] = content_sid
            if content_variables:
                fields["content_variables"] = json.dumps(dict(content_variables), ensure_ascii=False)
        else:
            fields["body"] = body
        try:
            await client.messages.create_async(**fields)
        except (TwilioRestException, TwilioServiceException) as exc:
            if exc.code == UNSUBSCRIBED:
                raise Unsubscribed() from None
            # `from None`: Twilio's message can quote the number, and a traceback would log it.
            raise TwilioSendError(exc.status, exc.code) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TwilioSendError(None, None) from exc

    def _rest_client(self) -> Client:
        # Made on first use: aiohttp sessions belong to the running event loop.
        if self._client is None:
            self._http = _BaseUrlHttpClient(self._api_base_url, self._timeout_s)
            self._client = Client(
                self._account_sid,
                self._auth_token,
                http_client=self._http,
                # Twilio falls back to os.environ when this is empty; only bot.app.settings reads the environment.
                environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
            )
        return self._client

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None


class TwilioMessaging:
    """What SMS and WhatsApp do alike: Twilio's signed webhook, answered in TwiML, and no buttons to answer."""

    replies_in_response = True

    def __init__(self, account: TwilioAccount) -> None:
        self.account = account

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        return self.account.verify(url, headers, body)

    def answer_in_response(self, callback_id: str) -> WebhookReply | None:
        return None

    async def acknowledge(
        self, to: str, callback_id: str | None, button_message_id: int | None, text: str = ""
    ) -> None:
        return None

    async def redraw(self, to: str, message_id: int, message: Message) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.account.aclose()


def twiml(bodies: Iterable[str]) -> WebhookReply:
    return WebhookReply(200, twiml_messages(bodies).encode(), "application/xml")


def twiml_messages(bodies: Iterable[str]) -> str:
    """A TwiML <Response> of one <Message> per body: byte for byte what twilio's MessagingResponse().message(body)
    for each, then to_xml(), writes (a test holds the two equal), at a fifth of the cost of building its element
    tree on every webhook."""
    inner = "".join(f"<Message>{escape(body)}</Message>" if body else "<Message />" for body in bodies)
    return _XML_DECLARATION + (f"<Response>{inner}</Response>" if inner else "<Response />")


_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


@functools.lru_cache(maxsize=4096)
def read_number(sender: str, default_country: str) -> tuple[str, str | None]:
    """The sender in E.164 (a number without + read in `default_country`) and its ISO region; FormError for
    anything phonenumbers cannot read as a possible number: it would be stored, hashed and texted back as it came.
    Cached: the same person sends a dozen messages in a conversation, and parsing a number costs more than the rest
    of the form."""
    try:
        number = phonenumbers.parse(sender, default_country)
    except phonenumbers.NumberParseException:
        raise FormError("From is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise FormError("From is not a phone number")
    if phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number)
    else:
        # A new or test range the metadata does not know yet: the calling code still names the country.
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, region if region and region not in {"ZZ", "001"} else None


def sha1_signature(key: bytes, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature of a form with one value a field: HMAC-SHA1 (key: the auth token) over the URL
    followed by each field's name and value, by name, in base64 (RequestValidator.compute_signature's result)."""
    data = url + "".join([name + params[name] for name in sorted(params)])
    return base64.b64encode(hmac.digest(key, data.encode(), "sha1")).decode()


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict, the last value of a repeated field winning: what
    `dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))` gives, in half its time (most of a
    Twilio form's fields need no unquoting)."""
    form = {}
    for field in body.decode("utf-8", "replace").split("&"):
        if field:
            name, _, value = field.partition("=")
            form[_unquote(name)] = _unquote(value)
    return form


def _unquote(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    return unquote(text) if "%" in text else text


def _num_media(form: Mapping[str, str]) -> int:
    try:
        return int(form.get("NumMedia", "0") or "0")
    except ValueError:
        return 0
