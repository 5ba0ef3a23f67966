"""What every channel hands the shell: an inbound message, already parsed, with its provider id for dedupe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.triage.events import Event


@dataclass(frozen=True)
class Inbound:
    """One inbound message. `user` is the raw channel id (chat id, phone number): hashed by the shell, never logged."""

    channel: Literal["telegram", "sms"]
    user: str
    message_id: str  # Telegram update_id or Twilio MessageSid, for dedupe
    event: Event | None  # None: nothing for the engine; answer with `notice` instead
    notice: str | None = None  # message key of a polite one-line reply (e.g. a photo: "notice.unsupported")
    locale: str | None = None  # a hint for a new conversation (Telegram language_code, or None)
    country: str | None = None  # ISO region of the sender's phone number, when known
    callback_id: str | None = None  # Telegram: the button press to answer
    button_message_id: int | None = None  # Telegram: the message whose keyboard was pressed (to remove it)
    group_chat: bool = False  # said in a group, not to kneebot alone: screened for red flags, never a conversation
