"""How the shell's parts are put together from the settings: Redis, the channels, the follow-up services."""

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
from bot.channels.sms import SmsChannel
from bot.channels.telegram import TelegramChannel
from bot.clock import Clock
from bot.content.loader import Content
from bot.shell.conversation import ConversationService
from bot.shell.delivery import DeliveryLimits
from bot.shell.followup import FollowUpPolicy, RedisFollowUp
from bot.storage.audit import AuditLog
from bot.storage.cases import CaseStore
from bot.storage.checkins import CheckInStore
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


def make_channels(
    settings: Settings, content: Content, *, per_process_limiter: bool
) -> tuple[TelegramChannel | None, SmsChannel | None]:
    """The configured channels. `per_process_limiter`: PTB's in-process rate limiter, for a process without the
    shared one in Redis."""
    telegram = sms = None
    if settings.telegram_bot_token is not None:
        telegram = TelegramChannel(
            settings.telegram_bot_token.get_secret_value(),
            content.catalog,
            base_url=settings.telegram_api_base_url,
            rate_limit=per_process_limiter,
        )
    if settings.sms_enabled and settings.twilio_auth_token is not None:
        sms = SmsChannel(
            settings.twilio_account_sid or "",
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number or "",
            content.catalog,
            api_base_url=settings.twilio_api_base_url,
            default_country=settings.default_country,
        )
    return telegram, sms


def id_secret(settings: Settings) -> bytes:
    return settings.id_hash_secret.get_secret_value().encode()


def delivery_limits(settings: Settings) -> DeliveryLimits:
    return DeliveryLimits(settings.telegram_rate_per_s, settings.telegram_chat_rate_per_s, settings.sms_rate_per_s)


def follow_up_policy(settings: Settings) -> FollowUpPolicy:
    return FollowUpPolicy(settings.escalation, settings.default_time_zone, settings.quiet)


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

    @classmethod
    def build(cls, settings: Settings, content: Content, client: redis.asyncio.Redis, clock: Clock) -> Services:
        store = RedisConversationStore(client, ttl=settings.conversation_ttl, secret=id_secret(settings))
        checkins, cases = CheckInStore(client), CaseStore(client)
        audit = AuditLog(client, settings.audit_max_events)
        follow_up = RedisFollowUp(follow_up_policy(settings), checkins, cases, audit, clock)
        service = ConversationService(content, store, clock, settings.policy(), sink=follow_up)
        return cls(settings, content, client, clock, store, checkins, cases, audit, RedisRateLimiter(client), service)

    async def aclose(self) -> None:
        """The store's shared connection, then the client's pool."""
        await self.store.aclose()
