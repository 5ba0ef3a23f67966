"""SMS through Twilio: the incoming-message webhook (`/twilio/sms`, signed), answered in TwiML, and messages sent
through the REST API (check-ins, pages), numbered choices within a set number of segments, GSM-7 where it can."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.channels.base import Inbound, Limits, Message, Rate, WebhookReply
from bot.channels.render import render_sms
from bot.channels.segments import to_gsm
from bot.channels.twilio import SPANISH_REGIONS, TwilioAccount, TwilioMessaging, read_number, twiml
from bot.content.catalog import Catalog
from bot.triage.effects import SendReply

NAME = "sms"
PATH = "/twilio/sms"


class SmsChannel(TwilioMessaging):
    name = NAME
    prefix = "sms"
    path = PATH

    def __init__(
        self,
        account: TwilioAccount,
        from_number: str,
        catalog: Catalog,
        *,
        default_country: str = "US",
        rate_per_s: float = 1.0,
    ) -> None:
        super().__init__(account)
        self._from = from_number
        self._catalog = catalog
        self._default_country = default_country
        self.limits = Limits(Rate.of(rate_per_s))  # per sending number (a US long code: 1 message/s)
        # Rendered replies, remembered: most are the same few questions in one of two languages.
        self._rendered = functools.lru_cache(maxsize=1024)(self._render)

    @property
    def from_number(self) -> str:
        return self._from

    def parse(self, body: bytes) -> Inbound:
        """Raises FormError for a form no Twilio message has, or a sender that is not a phone number."""
        received = self.account.received(body)
        user, country = read_number(received.sender, self._default_country)
        event, notice = received.event()
        locale = "es" if country in SPANISH_REGIONS else None
        return Inbound(NAME, user, received.message_id, event, notice=notice, locale=locale, country=country)

    def render(self, replies: Sequence[SendReply], locale: str, *, since_wrote: timedelta | None = None) -> list[Any]:
        """The SMS bodies these replies become, in order (one send each); each within render.MAX_SMS_SEGMENTS."""
        return [body for reply in replies for body in self._rendered(reply, locale)]

    def _render(self, reply: SendReply, locale: str) -> tuple[str, ...]:
        return tuple(render_sms(reply, self._catalog, locale))

    def render_message(self, message: Message) -> str:
        return message.text

    async def send(self, to: str, unit: Any) -> int:
        assert isinstance(unit, str)
        await self.account.send(to, self._from, body=unit)
        return 0

    def respond(self, replies: Sequence[SendReply], locale: str) -> WebhookReply:
        """TwiML: one <Message> per SMS."""
        return twiml(self.render(replies, locale))

    def respond_text(self, text: str) -> WebhookReply:
        return twiml([to_gsm(text)])

    def phone(self, to: str) -> str | None:
        return to
