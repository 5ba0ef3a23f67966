"""The web server: Telegram and Twilio webhooks, health and metrics (Starlette)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.channels.base import Inbound
from bot.channels.sms import SmsChannel, SmsFormError
from bot.channels.telegram import TelegramBlocked, TelegramChannel, TelegramSendError
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.content import Content, load_content
from bot.conversation import ConversationService, Handled
from bot.metrics import Metrics
from bot.storage import keys
from bot.storage.conversations import ConversationStore, MemoryConversationStore, RedisConversationStore
from bot.triage.emergency import emergency_number
from bot.triage.events import Event

log = logging.getLogger("kneebot.server")
TELEGRAM_PATH = "/telegram/webhook"
SMS_PATH = "/twilio/sms"
MAX_BODY = 64 * 1024


@dataclass
class App:
    settings: Settings
    content: Content
    store: ConversationStore
    service: ConversationService
    metrics: Metrics
    telegram: TelegramChannel | None = None
    sms: SmsChannel | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def participant(self, inbound: Inbound) -> str:
        secret = self.settings.id_hash_secret.get_secret_value().encode()
        return keys.participant_id(secret, "tg" if inbound.channel == "telegram" else "sms", inbound.user)

    def number(self, inbound: Inbound) -> str:
        return emergency_number(inbound.country, self.settings.default_country)

    def message_key(self, inbound: Inbound) -> str:
        return f"{inbound.channel}:{inbound.message_id}"

    async def run(self, inbound: Inbound, event: Event) -> Handled:
        handled = await self.service.handle(
            self.participant(inbound),
            event,
            message_id=self.message_key(inbound),
            locale=inbound.locale or self.settings.default_locale,
            country=inbound.country or self.settings.default_country,
        )
        for reply in () if handled.replayed else handled.replies:
            if reply.kind == "interrupt":
                self.metrics.interrupts.labels(kind=reply.call and "emergency" or "urgent").inc()
            if reply.kind == "outcome":
                self.metrics.assessments.labels(level=reply.parts[0].key.split(".")[1]).inc()
        return handled

    async def telegram_update(self, channel: TelegramChannel, update: Mapping[str, Any]) -> int:
        """Handle one update (from the webhook or long polling); the status Telegram should get (500: retry)."""
        inbound = channel.parse(update)
        if inbound is None:
            return 200
        self.metrics.messages_in.labels(channel="telegram").inc()
        try:
            if inbound.event is None:
                locale = inbound.locale or self.settings.default_locale
                self.background(channel.notice(inbound.user, inbound.notice or "", locale, self.number(inbound)))
                return 200
            handled = await self.run(inbound, inbound.event)
        except Exception:
            self.metrics.errors.labels(where="telegram").inc()
            log.exception("telegram update failed")
            return 500
        delivery = asyncio.create_task(_deliver_telegram(self, channel, inbound, handled))
        self.track(delivery)
        # Wait a little, so a failed send is retried by Telegram (the retry resumes after what was sent), but never
        # hold the webhook near Telegram's timeout: a slow send finishes in the background.
        done, _ = await asyncio.wait({delivery}, timeout=self.settings.telegram_delivery_budget_s)
        return 500 if done and not delivery.result() else 200

    def background(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.track(asyncio.create_task(coro))

    def track(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def create_app(
    settings: Settings,
    *,
    content: Content | None = None,
    store: ConversationStore | None = None,
    clock: Clock | None = None,
) -> Starlette:
    content = content or load_content()
    client = _redis_client(settings.redis_url) if settings.redis_url else None
    if store is None:
        store = (
            RedisConversationStore(client, ttl=settings.conversation_ttl)
            if client
            else MemoryConversationStore(ttl=settings.conversation_ttl)
        )
    service = ConversationService(content, store, clock or SystemClock())
    app_state = App(settings, content, store, service, Metrics())
    if settings.telegram_bot_token is not None:
        app_state.telegram = TelegramChannel(
            settings.telegram_bot_token.get_secret_value(), content.catalog, base_url=settings.telegram_api_base_url
        )
    if settings.sms_enabled and settings.twilio_auth_token is not None:
        app_state.sms = SmsChannel(
            settings.twilio_account_sid or "",
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number or "",
            content.catalog,
            api_base_url=settings.twilio_api_base_url,
            default_country=settings.default_country,
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if app_state.telegram:
            await app_state.telegram.start()
        try:
            yield
        finally:
            if app_state.tasks:
                await asyncio.gather(*app_state.tasks, return_exceptions=True)
            if app_state.telegram:
                await app_state.telegram.stop()
            if app_state.sms:
                await app_state.sms.aclose()
            await store.aclose()

    async def telegram_webhook(request: Request) -> Response:
        channel = app_state.telegram
        if channel is None:
            return PlainTextResponse("telegram is not configured", status_code=404)
        expected = settings.telegram_webhook_secret
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if expected is None or not hmac.compare_digest(given, expected.get_secret_value().encode()):
            return PlainTextResponse("forbidden", status_code=403)
        started = time.perf_counter()
        try:
            update = json.loads(await _body(request))
        except (ValueError, RecursionError, _TooLarge):  # deep nesting overflows the JSON decoder
            return PlainTextResponse("bad request", status_code=400)
        status = await app_state.telegram_update(channel, update) if isinstance(update, dict) else 200
        app_state.metrics.latency.labels(channel="telegram").observe(time.perf_counter() - started)
        return Response(status_code=status)

    async def sms_webhook(request: Request) -> Response:
        channel = app_state.sms
        if channel is None:
            return PlainTextResponse("sms is not configured", status_code=404)
        started = time.perf_counter()
        try:
            form = dict(parse_qsl((await _body(request)).decode("utf-8", "replace"), keep_blank_values=True))
        except _TooLarge:
            return PlainTextResponse("bad request", status_code=400)
        url = (settings.public_base_url or "").rstrip("/") + SMS_PATH
        if not channel.valid_signature(url, form, request.headers.get("x-twilio-signature")):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            inbound = channel.parse(form)
        except SmsFormError:
            return PlainTextResponse("bad request", status_code=400)
        app_state.metrics.messages_in.labels(channel="sms").inc()
        try:
            if inbound.event is None:
                body = channel.twiml_text(
                    inbound.notice or "", inbound.locale or settings.default_locale, number=app_state.number(inbound)
                )
            else:
                handled = await app_state.run(inbound, inbound.event)
                body = channel.twiml(handled.replies, handled.locale)
                app_state.metrics.messages_out.labels(channel="sms").inc(len(handled.replies))
        except Exception:
            app_state.metrics.errors.labels(where="sms").inc()
            log.exception("sms webhook failed")
            return Response(status_code=500)
        app_state.metrics.latency.labels(channel="sms").observe(time.perf_counter() - started)
        return Response(body, media_type="application/xml")

    async def healthz(_: Request) -> Response:
        ok = await store.ping()
        return JSONResponse({"ok": ok, "store": "up" if ok else "down"}, status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        return Response(app_state.metrics.render(), media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route(TELEGRAM_PATH, telegram_webhook, methods=["POST"]),
            Route(SMS_PATH, sms_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.kneebot = app_state
    return app


def _redis_client(url: str) -> redis.asyncio.Redis:
    # Fail fast when Redis is away: a webhook must still answer (red flags, "try again") well inside the
    # providers' timeouts, so one quick retry, then the store's error reaches the shell.
    return redis.asyncio.Redis.from_url(
        url, socket_timeout=1.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), retries=1)
    )


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _TooLarge
    return body


async def _deliver_telegram(app_state: App, channel: TelegramChannel, inbound: Inbound, handled: Handled) -> bool:
    """Send what this update has not sent yet, recording progress after each message. False: worth a retry."""
    participant, key = app_state.participant(inbound), app_state.message_key(inbound)
    try:
        if inbound.callback_id or inbound.button_message_id:
            await channel.acknowledge(inbound.callback_id, inbound.user, inbound.button_message_id)
        skip = await app_state.store.delivered(participant, key) if handled.replayed else 0

        async def sent(count: int) -> None:
            await app_state.store.mark_delivered(participant, key, count)
            app_state.metrics.messages_out.labels(channel="telegram").inc()

        await channel.deliver(inbound.user, handled.replies, handled.locale, skip=skip, on_sent=sent)
        return True
    except TelegramBlocked:
        log.info("telegram recipient blocked the bot")
        return True
    except (TelegramSendError, RedisError) as exc:
        app_state.metrics.errors.labels(where="telegram_send").inc()
        log.warning("telegram delivery failed (%s)", type(exc).__name__)
        return False
