"""WhatsApp through Twilio's WhatsApp API: the incoming-message webhook (`/twilio/whatsapp`, signed as SMS is),
answered in TwiML; free text while WhatsApp's customer-service window is open (24 hours from the person's last
message), and outside it only pre-approved templates (Twilio's Content API: a ContentSid, its variables filled).

People are `whatsapp:+<E.164>` addresses with participant ids of their own (`wa-...`), so a number that also texts
by SMS has two conversations. A check-in outside the window goes as its kind's template in the person's language:
with quick-reply buttons where the approved template has them (their ids `<node>:<choice>`, as Telegram's buttons),
otherwise with the question and its numbered choices in a variable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.channels.base import FormError, Inbound, Limits, Message, Rate, WebhookReply
from bot.channels.render import numbered, paragraphs
from bot.channels.twilio import SPANISH_REGIONS, TwilioAccount, TwilioMessaging, read_number, twiml
from bot.content.catalog import Catalog
from bot.triage.effects import SendReply
from bot.triage.events import ChoiceSelected, Event

NAME = "whatsapp"
PATH = "/twilio/whatsapp"
ADDRESS = "whatsapp:"
WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window: free messages this long after the person's last
MAX_BODY = 1600  # Twilio's limit for a WhatsApp message's body
_BUTTON = re.compile(r"([a-z0-9_]{1,64}):([a-z0-9_]{1,64})")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class Template:
    """A pre-approved template (Content API). `buttons`: it has quick-reply buttons whose ids are the choices."""

    content_sid: str
    buttons: bool = False


@dataclass(frozen=True)
class TemplateMessage:
    content_sid: str
    variables: tuple[tuple[str, str], ...]


def parse_templates(text: str) -> dict[tuple[str, str], Template]:
    """`checkin.en=HX...:buttons,checkin.es=HX...`: a ContentSid per template (a reply kind) and locale, and whether
    the template has quick-reply buttons. ValueError, naming the entry, for anything else."""
    templates: dict[tuple[str, str], Template] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        name, _, value = entry.partition("=")
        kind, dot, locale = name.strip().partition(".")
        sid, colon, flag = value.strip().partition(":")
        if not (dot and kind and locale) or not _CONTENT_SID.fullmatch(sid) or (colon and flag != "buttons"):
            raise ValueError(f"invalid template {entry!r}: expected kind.locale=HX<32 hex digits>[:buttons]")
        if (kind, locale) in templates:
            raise ValueError(f"template {name.strip()!r} is named more than once")
        templates[(kind, locale)] = Template(sid, buttons=bool(colon))
    return templates


class WhatsAppChannel(TwilioMessaging):
    name = NAME
    prefix = "wa"
    path = PATH

    def __init__(
        self,
        account: TwilioAccount,
        from_number: str,
        catalog: Catalog,
        *,
        templates: Mapping[tuple[str, str], Template] | None = None,
        default_country: str = "US",
        rate_per_s: float = 10.0,
    ) -> None:
        super().__init__(account)
        self._from = from_number if from_number.startswith(ADDRESS) else ADDRESS + from_number
        self._catalog = catalog
        self._templates = dict(templates or {})
        self._default_country = default_country
        self.limits = Limits(Rate.of(rate_per_s))  # per sending number
        self._rendered = functools.lru_cache(maxsize=1024)(self._free)

    def parse(self, body: bytes) -> Inbound:
        """Raises FormError for a form no WhatsApp message has (a sender that is not `whatsapp:` and a number)."""
        received = self.account.received(body)
        if not received.sender.startswith(ADDRESS):
            raise FormError("From is not a WhatsApp address")
        number, country = read_number(received.sender.removeprefix(ADDRESS), self._default_country)
        event, notice = _button(received.form.get("ButtonPayload", "")) or received.event()
        locale = "es" if country in SPANISH_REGIONS else None
        return Inbound(
            NAME, ADDRESS + number, received.message_id, event, notice=notice, locale=locale, country=country
        )

    def render(self, replies: Sequence[SendReply], locale: str, *, since_wrote: timedelta | None = None) -> list[Any]:
        """Free text while the window is open; outside it (or not knowing when the person last wrote), a reply with a
        template of its kind goes as that template, and any other as text (which Twilio refuses: error 63016)."""
        units: list[Any] = []
        for reply in replies:
            template = self._templates.get((reply.kind, locale))
            if template is not None and (since_wrote is None or since_wrote >= WINDOW):
                units.append(self._template(template, reply, locale))
            else:
                units += self._rendered(reply, locale)
        return units

    def _free(self, reply: SendReply, locale: str) -> tuple[str, ...]:
        """The reply as text, its choices numbered, in as few messages as fit Twilio's limit."""
        bodies: list[str] = []
        for block in numbered(reply, self._catalog, locale):
            if bodies and len(bodies[-1]) + 2 + len(block) <= MAX_BODY:
                bodies[-1] += "\n\n" + block
            else:
                bodies.append(block[:MAX_BODY])
        return tuple(bodies)

    def _template(self, template: Template, reply: SendReply, locale: str) -> TemplateMessage:
        """Variables: 1, the reply's opening (all but its question); 2, the question, with its choices numbered when
        the template has no buttons for them."""
        texts = paragraphs(reply, self._catalog, locale)
        question = texts[-1] if template.buttons else numbered(reply, self._catalog, locale)[-1]
        return TemplateMessage(template.content_sid, (("1", "\n\n".join(texts[:-1])), ("2", question)))

    def render_message(self, message: Message) -> str:
        return message.text[:MAX_BODY]

    async def send(self, to: str, unit: Any) -> int:
        if isinstance(unit, TemplateMessage):
            variables = dict(unit.variables)
            await self.account.send(to, self._from, content_sid=unit.content_sid, content_variables=variables)
        else:
            assert isinstance(unit, str)
            await self.account.send(to, self._from, body=unit)
        return 0

    def respond(self, replies: Sequence[SendReply], locale: str) -> WebhookReply:
        """TwiML: the person just wrote, so the window is open."""
        return twiml(body for reply in replies for body in self._rendered(reply, locale))

    def respond_text(self, text: str) -> WebhookReply:
        return twiml([text[:MAX_BODY]])

    def phone(self, to: str) -> str | None:
        return to.removeprefix(ADDRESS)


def _button(payload: str) -> tuple[Event, None] | None:
    """A quick-reply button's id, `<node>:<choice>` (a stale button names the question it belonged to)."""
    found = _BUTTON.fullmatch(payload.strip())
    return (ChoiceSelected(found[1], found[2]), None) if found else None
