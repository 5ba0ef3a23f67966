"""The terminal chat: the real conversation shell, rendered as SMS text or Telegram buttons."""

from __future__ import annotations

import asyncio
import sys

import click

from bot.channels.render import render_terminal
from bot.clock import SystemClock
from bot.config import Settings
from bot.content import Content
from bot.conversation import ConversationService
from bot.storage import keys
from bot.storage.conversations import ConversationStore, MemoryConversationStore, RedisConversationStore
from bot.triage.events import CommandReceived, Event, MessageReceived


async def run_chat(content: Content, channel: str, locale: str | None) -> None:
    settings = Settings()
    store: ConversationStore
    if settings.redis_url:
        import redis.asyncio

        store = RedisConversationStore(redis.asyncio.Redis.from_url(settings.redis_url), ttl=settings.conversation_ttl)
    else:
        store = MemoryConversationStore(ttl=settings.conversation_ttl)
    service = ConversationService(content, store, SystemClock())
    participant = keys.participant_id(settings.id_hash_secret.get_secret_value().encode(), "cli", "terminal")
    start_locale = locale or settings.default_locale
    click.echo(click.style("kneebot chat - type your answers; Ctrl-D to leave.\n", dim=True))
    event: Event = CommandReceived("restart")
    try:
        while True:
            handled = await service.handle(participant, event, locale=start_locale, country=settings.default_country)
            for reply in handled.replies:
                text = render_terminal(reply, content.catalog, handled.locale, channel)
                click.echo(click.style("kneebot> ", fg="cyan") + text)
                click.echo()
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            event = MessageReceived(line.strip())
    finally:
        await store.aclose()
