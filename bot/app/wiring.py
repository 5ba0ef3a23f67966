"""How the shell's parts are put together from the settings: Redis, the channel registry, the follow-up services.

The one place that names channels: each is built here from its settings, and everything else finds it in the
registry by the name its module gives it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.app.settings import Settings
from bot.channels.base import Channel, Channels
from bot.channels.sms import SmsChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.twilio import TwilioAccount
from bot.channels.whatsapp import WhatsAppChannel
from bot.clock import Clock
from bot.content.loader import Content
from bot.shell.conversation import ConversationService
from bot.shell.followup import FollowUpPolicy, RedisFollowUp
from bot.shell.staff import StaffTargets
from bot.shell.wording import Words
from bot.storage.audit import AuditLog
from bot.storage.cases import CaseStore
from bot.storage.checkins import Address, CheckInStore
from bot.storage.conversations import RedisConversationStore
from bot.storage.ratelimit import RedisRateLimiter

T = TypeVar("T")


def settle_heap() -> None:
    """Once a long-running process has loaded what it keeps for life (content, flows, libraries, the app): collect
    once, then put all of it out of the garbage collector's sight. Otherwise every full collection walks those
    hundred thousand objects again in the middle of someone's request (90 ms here; 25 ms with them set aside)."""
    gc.collect()
    gc.freeze()


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived process's coroutine (the worker) on uvloop where it is installed, as uvicorn runs `serve`:
    libuv's loop takes less CPU for each socket a Bot API call or a Redis command waits on."""
    try:
        import uvloop
    except ImportError:  # not built for this platform: asyncio's own loop
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def redis_client(url: str, *, timeout_s: float = 1.0) -> redis.asyncio.Redis:
    """Fail fast when Redis is away: a webhook must still answer (red flags, "try again") well inside the
    providers' timeouts, so one quick retry, then the store's error reaches the shell."""
    return redis.asyncio.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), retries=1)
    )


def make_channels(settings: Settings, content: Content, *, per_process_limiter: bool) -> Channels:
    """The registry of the configured channels. `per_process_limiter`: PTB's in-process rate limiter, for a process
    without the shared one in Redis."""
    channels: list[Channel] = []
    if settings.telegram_bot_token is not None:
        secret = settings.telegram_webhook_secret
        channels.append(
            TelegramChannel(
                settings.telegram_bot_token.get_secret_value(),
                content.catalog,
                webhook_secret=secret.get_secret_value() if secret is not None else None,
                base_url=settings.telegram_api_base_url,
                rate_limit=per_process_limiter,
                rate_per_s=settings.telegram_rate_per_s,
                chat_rate_per_s=settings.telegram_chat_rate_per_s,
            )
        )
    account = twilio_account(settings)
    if account is not None and settings.sms_enabled and settings.twilio_from_number is not None:
        channels.append(
            SmsChannel(
                account,
                settings.twilio_from_number,
                content.catalog,
                default_country=settings.default_country,
                rate_per_s=settings.sms_rate_per_s,
            )
        )
    if account is not None and settings.whatsapp_from_number is not None:
        channels.append(
            WhatsAppChannel(
                account,
                settings.whatsapp_from_number,
                content.catalog,
                templates=settings.templates,
                default_country=settings.default_country,
                rate_per_s=settings.whatsapp_rate_per_s,
            )
        )
    return Channels(channels)


def channel_names(settings: Settings) -> list[str]:
    """The channels the settings configure, by name (for the start line), without building them."""
    configured = (
        (TelegramChannel.name, settings.telegram_enabled),
        (SmsChannel.name, settings.sms_enabled),
        (WhatsAppChannel.name, settings.whatsapp_enabled),
    )
    return [name for name, on in configured if on]


def twilio_account(settings: Settings) -> TwilioAccount | None:
    """The Twilio account SMS and WhatsApp send through, when configured."""
    if not (settings.sms_enabled or settings.whatsapp_enabled) or settings.twilio_auth_token is None:
        return None
    return TwilioAccount(
        settings.twilio_account_sid or "",
        settings.twilio_auth_token.get_secret_value(),
        api_base_url=settings.twilio_api_base_url,
    )


def staff_targets(settings: Settings) -> StaffTargets:
    chat = settings.staff_telegram_chat_id
    return StaffTargets(
        Address(channel=TelegramChannel.name, to=str(chat)) if chat is not None else None,
        tuple(Address(channel=SmsChannel.name, to=number) for number in settings.oncall),
        settings.escalation_pages_per_contact,
    )


def staff_words(settings: Settings, content: Content) -> Words:
    """The staff catalog in the deployment's language, times in the clinic's zone: for cards, pages and console."""
    return Words(content.catalog, settings.default_locale, settings.clinic_zone)


def id_secret(settings: Settings) -> bytes:
    return settings.id_hash_secret.get_secret_value().encode()


def follow_up_policy(settings: Settings) -> FollowUpPolicy:
    return FollowUpPolicy(settings.escalation, settings.default_time_zone, settings.quiet, settings.retention)


@dataclass
class Services:
    """Everything a webhook or a worker needs to run conversations with follow-up in Redis."""

    settings: Settings
    content: Content
    client: redis.asyncio.Redis
    clock: Clock
    store: RedisConversationStore
    checkins: CheckInStore
    cases: CaseStore
    audit: AuditLog
    limiter: RedisRateLimiter
    service: ConversationService
    channels: Channels

    @classmethod
    def build(
        cls, settings: Settings, content: Content, client: redis.asyncio.Redis, clock: Clock, channels: Channels
    ) -> Services:
        store = RedisConversationStore(client, ttl=settings.conversation_ttl, secret=id_secret(settings))
        checkins, cases = CheckInStore(client), CaseStore(client)
        audit = AuditLog(client, settings.audit_max_events)
        follow_up = RedisFollowUp(follow_up_policy(settings), checkins, cases, audit, clock, channels)
        service = ConversationService(content, store, clock, settings.policy(), sink=follow_up)
        limiter = RedisRateLimiter(client)
        return cls(settings, content, client, clock, store, checkins, cases, audit, limiter, service, channels)

    async def aclose(self) -> None:
        await self.store.aclose()
