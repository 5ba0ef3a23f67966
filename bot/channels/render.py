"""Render a SendReply: as numbered text (SMS, WhatsApp), as text with buttons (Telegram), or a terminal view."""

from __future__ import annotations

from bot.channels.base import Button, Message
from bot.channels.segments import segments, to_gsm
from bot.content.catalog import Catalog
from bot.triage.effects import MORE_NODE, SendReply, Text

MAX_SMS_SEGMENTS = 3


def paragraphs(reply: SendReply, catalog: Catalog, locale: str, channel: str | None = None) -> list[str]:
    """The reply's parts, each in the channel's own wording where the catalog has one (buttons vs numbers)."""
    return [catalog.render(part, locale, channel) for part in reply.parts]


def render_sms(reply: SendReply, catalog: Catalog, locale: str, max_segments: int = MAX_SMS_SEGMENTS) -> list[str]:
    """Numbered choices; the details left out offered in one line ("Reply TIPS for home-care tips"); parts packed into
    as few messages as fit `max_segments` each, folded to GSM-7."""
    blocks = numbered(reply, catalog, locale)
    messages: list[str] = []
    for block in (to_gsm(b) for b in blocks):
        if messages and segments(messages[-1] + "\n" + block) <= max_segments:
            messages[-1] += "\n" + block
        else:
            messages.append(block)
    return messages


def numbered(reply: SendReply, catalog: Catalog, locale: str, channel: str = "sms") -> list[str]:
    """The reply's paragraphs, the last followed by its choices as numbered lines (for channels without buttons); the
    wording is SMS's where the catalog has a channel's own ("reply with the number"), which fits any typed channel."""
    blocks = paragraphs(reply, catalog, locale, channel)
    if reply.more:
        said = tuple(f"{option.label.key}.said" for option in reply.more)
        blocks.append(catalog.render(Text("sms.more", (("details", said),)), locale, channel))
    if reply.choices:
        lines = [f"{i} {catalog.render(c.label, locale)}" for i, c in enumerate(reply.choices, start=1)]
        blocks[-1] = blocks[-1] + "\n" + catalog.raw("sms.reply_with", locale) + "\n" + "\n".join(lines)
    return blocks


def render_telegram(reply: SendReply, catalog: Catalog, locale: str) -> Message:
    text = "\n\n".join(paragraphs(reply, catalog, locale, "telegram"))
    buttons = tuple(Button(catalog.render(c.label, locale), f"{reply.node}:{c.id}") for c in reply.choices)
    more = tuple(Button(catalog.render(c.label, locale), f"{MORE_NODE}:{c.id}") for c in reply.more)
    return Message(text, buttons + more, reply.call)


def as_text(reply: SendReply, catalog: Catalog, locale: str, channel: str) -> str:
    """A reply as a transcript shows it: the SMS messages a blank line apart, or a Telegram message's text."""
    if channel == "sms":
        return "\n\n".join(render_sms(reply, catalog, locale))
    return render_telegram(reply, catalog, locale).text


def has_buttons(channel: str) -> bool:
    """Whether a terminal's `channel` shows choices as buttons (pressed) rather than numbers (typed)."""
    return channel == "telegram"


def render_terminal(reply: SendReply, catalog: Catalog, locale: str, channel: str) -> str:
    if channel == "sms":
        return "\n---\n".join(render_sms(reply, catalog, locale))
    message = render_telegram(reply, catalog, locale)
    text = message.text
    asked = [b for b in message.buttons if not b.data.startswith(f"{MORE_NODE}:")]
    if asked:
        text += "\n" + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(asked, start=1))
    more = [b for b in message.buttons if b.data.startswith(f"{MORE_NODE}:")]
    if more:  # buttons in Telegram; in a terminal, typed as TIPS
        text += "\n" + "  ".join(f"[{b.label}]" for b in more)
    if message.call:
        text += f"\n[Call {message.call}]"
    return text
