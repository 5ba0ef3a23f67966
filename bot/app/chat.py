"""The terminal chat: the real conversation shell, rendered as SMS text or Telegram buttons."""

from __future__ import annotations

import asyncio
import sys

import click

from bot.app.settings import Settings
from bot.channels.render import render_terminal
from bot.clock import SystemClock
from bot.content.loader import Content
from bot.shell.conversation import ConversationService
from bot.storage import keys
from bot.storage.conversations import ConversationStore, MemoryConversationStore, RedisConversationStore
from bot.triage.events import CheckInDue, CommandReceived, Event, MessageReceived

CHECKIN_NOW = "/checkin"  # terminal only: what the worker does when a check-in comes due, without the wait


async def _next_checkin(service: ConversationService, participant: str) -> CheckInDue | None:
    session = await service.session(participant)
    if session is None or session.checkin_seq >= session.checkins_scheduled:
        return None
    return CheckInDue(session.checkin_seq + 1)


async def _next_event(service: ConversationService, participant: str) -> Event | None:
    """The next line as an event (None at the end of input); /checkin is the next check-in coming due now."""
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return None
        if line.strip() != CHECKIN_NOW:
            return MessageReceived(line.strip())
        checkin = await _next_checkin(service, participant)
        if checkin is not None:
            return checkin
        click.echo(click.style("(no check-in is scheduled)\n", dim=True))


async def run_chat(content: Content, settings: Settings, channel: str, locale: str | None) -> None:
    """A conversation on stdin and stdout, kept where `settings.redis_url` says (memory when unset: the command line
    sets it only from `kneebot chat --redis URL`)."""
    store: ConversationStore
    if settings.redis_url:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(settings.redis_url)
        try:
            await client.ping()  # unreachable: one line from the command, not a traceback at the first message
        except BaseException:
            await client.aclose()
            raise
        store = RedisConversationStore(client, ttl=settings.conversation_ttl)
    else:
        store = MemoryConversationStore(ttl=settings.conversation_ttl)
    service = ConversationService(content, store, SystemClock(), settings.policy())
    participant = keys.participant_id(settings.id_hash_secret.get_secret_value().encode(), "cli", "terminal")
    start_locale = locale or settings.default_locale
    click.echo(
        click.style("kneebot chat - type your answers; /checkin: the next check-in now; Ctrl-D to leave.\n", dim=True)
    )
    event: Event | None = CommandReceived("restart")
    try:
        while event is not None:
            handled = await service.handle(participant, event, locale=start_locale, country=settings.default_country)
            for reply in handled.replies:
                text = render_terminal(reply, content.catalog, handled.locale, channel)
                click.echo(click.style("kneebot> ", fg="cyan") + text)
                click.echo()
            event = await _next_event(service, participant)
    finally:
        await store.aclose()
