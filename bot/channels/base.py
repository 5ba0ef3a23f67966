"""The one shape of a channel: what each channel module provides (`Channel`) and what it hands the shell (`Inbound`).

A channel owns everything about its provider: its id scheme (the participant prefix), its webhook (route, signature
check, parsing, and how the webhook's reply is given), rendering, sending, its provider's limits and how an opt-out
shows. The shell and the processes only ever hold channels in a registry (`Channels`), keyed by `Channel.name`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from bot.triage.effects import SendReply
from bot.triage.events import Event


@dataclass(frozen=True)
class Inbound:
    """One inbound message. `user` is the raw channel id (chat id, phone number): hashed by the shell, never logged."""

    channel: str  # the channel's name
    user: str
    message_id: str  # the provider's id for dedupe (Telegram update_id, Twilio MessageSid)
    event: Event | None  # None: nothing for the engine; answer with `notice` instead
    notice: str | None = None  # message key of a polite one-line reply (e.g. a photo: "notice.unsupported")
    locale: str | None = None  # a hint for a new conversation (Telegram language_code, or None)
    country: str | None = None  # ISO region of the sender's phone number, when known
    callback_id: str | None = None  # a button press to answer (Telegram)
    button_message_id: int | None = None  # the message whose buttons were pressed (to remove them, or redraw a card)
    group_chat: bool = False  # said in a group, not to kneebot alone: screened for red flags, never a conversation
    sender_name: str | None = None  # a staff member's first name, for "acknowledged by" (a press in a staff group)


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # "<node>:<choice>", so a stale button names the question it belonged to


@dataclass(frozen=True)
class Message:
    """A message that is not a reply of the engine (a staff card or page, a staff member's words): its text, its
    buttons (where the channel has them) and a number to call."""

    text: str
    buttons: tuple[Button, ...] = ()
    call: str | None = None


@dataclass(frozen=True)
class Rate:
    """At most `count` messages in any `per_s` seconds."""

    count: int
    per_s: float

    @classmethod
    def of(cls, per_second: float, burst: int = 1) -> Rate:
        """A rate as whole messages per window, at least one (0.5/s is 1 per 2 s), averaged over `burst` windows."""
        count = max(1, int(per_second)) if per_second >= 1 else 1
        return cls(burst * count, burst * count / per_second)


@dataclass(frozen=True)
class Limits:
    """A provider's sending limits: for what this deployment sends on the channel, and per person (chat)."""

    sender: Rate
    person: Rate | None = None


@dataclass(frozen=True)
class WebhookReply:
    """A webhook's answer: the status, and a body (TwiML, a Bot API call) with its media type."""

    status: int = 200
    body: bytes = b""
    media_type: str | None = None


class FormError(ValueError):
    """A webhook body no message of the provider has: answered 400."""


class OptedOut(Exception):  # noqa: N818 - the person's state, not a failure
    """The person blocked the bot or unsubscribed: send them nothing more (treated as their STOP)."""


class SendFailed(Exception):
    """The provider refused or could not take a message. Carries codes only: a provider's text can quote the number.
    `retry_after_s`: worth a retry after that long (0: not worth one); `asked_s`: the wait the provider asked for."""

    def __init__(self, reason: str, retry_after_s: float = 30.0, *, asked_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s
        self.asked_s = asked_s


class Channel(Protocol):
    """One channel. Units are what `render` and `render_message` make: opaque to the shell, one send each."""

    name: str  # in addresses, metrics and audit entries: "telegram", "sms", "whatsapp"
    prefix: str  # of the participant ids of its people ("tg" for tg-3kq...), so channels never share a conversation
    path: str  # its webhook route
    replies_in_response: bool  # the webhook's response carries the replies (TwiML); else they are sent by API calls
    limits: Limits

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook request is the provider's (`url`: the public URL it called)."""
        ...

    def parse(self, body: bytes) -> Inbound | None:
        """One webhook body; None for anything to ignore. Raises FormError for a body no message of the provider
        has."""
        ...

    def render(self, replies: Sequence[SendReply], locale: str, *, since_wrote: timedelta | None = None) -> list[Any]:
        """The messages these replies become, in order, one send each. `since_wrote`: how long since the person
        last wrote (None: unknown), for a channel whose free messages depend on it."""
        ...

    def render_message(self, message: Message) -> Any:
        """A message that is not the engine's (staff cards and pages, a staff member's words), as one unit."""
        ...

    async def send(self, to: str, unit: Any) -> int:
        """Send one unit; the provider's message id where it has a number (0 otherwise). Raises OptedOut or
        SendFailed."""
        ...

    def respond(self, replies: Sequence[SendReply], locale: str) -> WebhookReply:
        """The webhook's own answer, carrying these replies when `replies_in_response` (else an empty 200)."""
        ...

    def respond_text(self, text: str) -> WebhookReply:
        """The webhook's answer carrying a plain text (a staff confirmation), when `replies_in_response`."""
        ...

    def phone(self, to: str) -> str | None:
        """The person's phone number (E.164), when the address is one: their time zone and a number to call back."""
        ...

    def answer_in_response(self, callback_id: str) -> WebhookReply | None:
        """A button press answered by the webhook's own response, where the provider allows it (else None)."""
        ...

    async def acknowledge(
        self, to: str, callback_id: str | None, button_message_id: int | None, text: str = ""
    ) -> None:
        """Answer a button press (showing `text`) and remove the buttons it was on, where the channel has them; best
        effort."""
        ...

    async def redraw(self, to: str, message_id: int, message: Message) -> None:
        """Replace a message sent earlier (a staff card whose case moved on), where the channel can; best effort."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Channels(Mapping[str, Channel]):
    """The registry: the configured channels by name, in the order they were given."""

    def __init__(self, channels: Sequence[Channel] = ()) -> None:
        self._by_name = {channel.name: channel for channel in channels}
        if len(self._by_name) != len(channels) or len({c.prefix for c in channels}) != len(channels):
            raise ValueError("channels need names and participant prefixes of their own")

    def __getitem__(self, name: str) -> Channel:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    async def start(self) -> None:
        for channel in self._by_name.values():
            await channel.start()

    async def stop(self) -> None:
        for channel in self._by_name.values():
            await channel.stop()
