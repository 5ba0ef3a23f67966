"""The terminal chat: the real conversation shell, rendered as SMS text or Telegram buttons, for a person at a terminal
or, with --json, for a tool that scripts whole conversations (one message a line in, one JSON object a line out)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from bot.app.settings import Settings
from bot.channels.render import render_sms, render_telegram, render_terminal
from bot.clock import SystemClock
from bot.content.loader import Content
from bot.shell.conversation import ConversationService, Handled
from bot.storage import keys
from bot.storage.conversations import ConversationStore, MemoryConversationStore, RedisConversationStore
from bot.triage.asking import ASKED_AGAIN
from bot.triage.effects import SendReply
from bot.triage.events import CheckInDue, CommandReceived, Event, MessageReceived
from bot.triage.findings import Level

CHECKIN_NOW = "/checkin"  # terminal only: what the worker does when a check-in comes due, without the wait
# What an interrupt says first, by the interrupt it is (a crisis with an emergency is a crisis: both are said).
INTERRUPT_KEYS = (
    ("crisis.message", "crisis"),
    ("crisis.message.someone_else", "crisis"),
    ("emergency.action", "emergency"),
    ("urgent.action", "urgent"),
)


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


async def _store(settings: Settings) -> ConversationStore:
    """Memory, unless `settings.redis_url` is set (by `--redis URL` only); an unreachable Redis raises here, so the
    command says so in one line rather than with a traceback at the first message."""
    if not settings.redis_url:
        return MemoryConversationStore(ttl=settings.conversation_ttl)
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(settings.redis_url)
    try:
        await client.ping()
    except BaseException:
        await client.aclose()
        raise
    return RedisConversationStore(client, ttl=settings.conversation_ttl)


def _participant(settings: Settings) -> str:
    return keys.participant_id(settings.id_hash_secret.get_secret_value().encode(), "cli", "terminal")


async def run_chat(content: Content, settings: Settings, channel: str, locale: str | None) -> None:
    """A conversation on stdin and stdout, kept where `settings.redis_url` says (memory when unset: the command line
    sets it only from `kneebot chat --redis URL`)."""
    store = await _store(settings)
    service = ConversationService(content, store, SystemClock(), settings.policy())
    participant = _participant(settings)
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


class ScriptedChat:
    """One conversation driven a message at a time, through the real shell, each turn described as the contract in
    shared/DESIGN.md says (`kneebot chat --json`)."""

    def __init__(
        self,
        content: Content,
        service: ConversationService,
        participant: str,
        *,
        channel: str = "sms",
        locale: str = "en",
        country: str | None = None,
    ) -> None:
        self.content, self.service, self.participant = content, service, participant
        self.channel, self.locale, self.country = channel, locale, country
        self.level: Level | None = None

    async def welcome(self) -> dict[str, Any]:
        return await self._turn(CommandReceived("start"))

    async def send(self, line: str) -> dict[str, Any]:
        """One line as the person's message; "/checkin" is the next check-in coming due now."""
        if line.strip() == CHECKIN_NOW:
            checkin = await _next_checkin(self.service, self.participant)
            if checkin is None:
                return self._described((), self.locale)
            return await self._turn(checkin)
        return await self._turn(MessageReceived(line))

    async def _turn(self, event: Event) -> dict[str, Any]:
        handled: Handled = await self.service.handle(self.participant, event, locale=self.locale, country=self.country)
        session = await self.service.session(self.participant)
        interrupt = _interrupt(handled.replies)
        if session is not None and session.level is not None:
            self.level = session.level
        elif interrupt in ("emergency", "crisis"):  # said after STOP: no questions, but the advice given
            self.level = Level.emergency
        elif interrupt == "urgent":
            self.level = max(self.level or Level.urgent, Level.urgent)
        elif session is None:
            self.level = None  # deleted
        return self._described(handled.replies, handled.locale, interrupt)

    def _described(self, replies: Sequence[SendReply], locale: str, interrupt: str | None = None) -> dict[str, Any]:
        catalog = self.content.catalog
        texts: list[str] = []
        question = None
        for reply in replies:
            if self.channel == "sms":
                texts.extend(render_sms(reply, catalog, locale))
            else:
                texts.append(render_telegram(reply, catalog, locale).text)
            if reply.node is not None:
                choices = [{"id": c.id, "label": catalog.render(c.label, locale)} for c in reply.choices]
                question = {"node": reply.node, "choices": choices}
        return {
            "replies": texts,
            "question": question,
            "level": self.level.value if self.level else None,
            "interrupt": interrupt,
            "misunderstood": any(p.key in ASKED_AGAIN for r in replies for p in r.parts),
        }


def _interrupt(replies: Sequence[SendReply]) -> str | None:
    """The interrupt these replies give: an emergency, urgent or crisis message, or a yes/no safety question."""
    for reply in replies:
        if reply.kind == "interrupt":
            said = {p.key for p in reply.parts}
            return next((name for key, name in INTERRUPT_KEYS if key in said), None)
    return "confirm" if any(r.kind == "confirm" for r in replies) else None


async def run_json(
    content: Content,
    settings: Settings,
    *,
    channel: str,
    locale: str | None,
    country: str | None,
    welcome: bool,
) -> None:
    """`kneebot chat --json`: a line of stdin is a message, a line of stdout its JSON object (flushed at once, so a
    tool can drive the conversation interactively); the first object is the welcome unless `welcome` is false."""
    store = await _store(settings)
    service = ConversationService(content, store, SystemClock(), settings.policy())
    chat = ScriptedChat(
        content,
        service,
        _participant(settings),
        channel=channel,
        locale=locale or settings.default_locale,
        country=country or settings.default_country,
    )

    def emit(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    try:
        if welcome:
            emit(await chat.welcome())
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            emit(await chat.send(line.rstrip("\r\n")))
    finally:
        await store.aclose()
