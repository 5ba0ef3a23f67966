"""Render a SendReply for a channel: SMS numbered text, Telegram text with buttons, or a terminal view of either."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.segments import segments, to_gsm
from bot.content.catalog import Catalog
from bot.triage.effects import SendReply

MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # "<node>:<choice>", so a stale button names the question it belonged to


@dataclass(frozen=True)
class TelegramMessage:
    text: str
    buttons: tuple[Button, ...] = ()
    call: str | None = None


def paragraphs(reply: SendReply, catalog: Catalog, locale: str, channel: str | None = None) -> list[str]:
    """The reply's parts, each in the channel's own wording where the catalog has one (buttons vs numbers)."""
    return [catalog.render(part, locale, channel) for part in reply.parts]


def render_sms(reply: SendReply, catalog: Catalog, locale: str, max_segments: int = MAX_SMS_SEGMENTS) -> list[str]:
    """Numbered choices; parts packed into as few messages as fit `max_segments` each, folded to GSM-7."""
    blocks = paragraphs(reply, catalog, locale, "sms")
    if reply.choices:
        lines = [f"{i} {catalog.render(c.label, locale)}" for i, c in enumerate(reply.choices, start=1)]
        blocks[-1] = blocks[-1] + "\n" + catalog.raw("sms.reply_with", locale) + "\n" + "\n".join(lines)
    messages: list[str] = []
    for block in (to_gsm(b) for b in blocks):
        if messages and segments(messages[-1] + "\n" + block) <= max_segments:
            messages[-1] += "\n" + block
        else:
            messages.append(block)
    return messages


def render_telegram(reply: SendReply, catalog: Catalog, locale: str) -> TelegramMessage:
    text = "\n\n".join(paragraphs(reply, catalog, locale, "telegram"))
    buttons = tuple(Button(catalog.render(c.label, locale), f"{reply.node}:{c.id}") for c in reply.choices)
    return TelegramMessage(text, buttons, reply.call)


def render_terminal(reply: SendReply, catalog: Catalog, locale: str, channel: str) -> str:
    if channel == "sms":
        return "\n---\n".join(render_sms(reply, catalog, locale))
    message = render_telegram(reply, catalog, locale)
    text = message.text
    if message.buttons:
        text += "\n" + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(message.buttons, start=1))
    if message.call:
        text += f"\n[Call {message.call}]"
    return text
