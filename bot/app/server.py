"""The web server: Telegram and Twilio webhooks, health and metrics (Starlette)."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from bot.app.settings import Settings
from bot.app.staff_console import staff_console
from bot.app.wiring import Services, delivery_limits, make_channels, redis_client
from bot.channels.base import Inbound
from bot.channels.sms import SmsChannel, SmsFormError, parse_form
from bot.channels.telegram import TelegramChannel, parse_staff_press
from bot.clock import Clock, SystemClock
from bot.content.loader import Content, load_content
from bot.shell.conversation import ConversationService, Handled
from bot.shell.delivery import Deliverer, DeliveryFailed, OptedOut
from bot.shell.metrics import Metrics
from bot.shell.staff import StaffAction, act, card, parse_button, parse_sms
from bot.storage import keys
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore, MemoryConversationStore
from bot.triage.effects import Param, Text
from bot.triage.events import CommandReceived, Event

log = logging.getLogger("kneebot.server")
TELEGRAM_PATH = "/telegram/webhook"
SMS_PATH = "/twilio/sms"
MAX_BODY = 64 * 1024
WORKERS_CHECK_S = 1.0


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    call: dict[str, Any] | None = None  # a Bot API method and its parameters, for Telegram to call (webhooks only)


@dataclass
class App:
    settings: Settings
    content: Content
    store: ConversationStore
    service: ConversationService
    metrics: Metrics
    deliverer: Deliverer
    services: Services | None = None  # with Redis: check-ins, cases, audit and the shared rate limiter
    telegram: TelegramChannel | None = None
    sms: SmsChannel | None = None
    clock: Clock = field(default_factory=SystemClock)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _alive: bool = False
    _alive_checked_at: float = -WORKERS_CHECK_S

    def __post_init__(self) -> None:
        self._id_secret = self.settings.id_hash_secret.get_secret_value().encode()

    def participant(self, inbound: Inbound) -> str:
        return keys.participant_id(self._id_secret, "tg" if inbound.channel == "telegram" else "sms", inbound.user)

    def number(self, inbound: Inbound) -> Param:
        return self.service.policy.emergency(inbound.country).param

    def message_key(self, inbound: Inbound) -> str:
        return f"{inbound.channel}:{inbound.message_id}"

    async def run(self, inbound: Inbound, event: Event, queue: Mapping[str, str] | None = None) -> Handled:
        handled = await self.service.handle(
            self.participant(inbound),
            event,
            message_id=self.message_key(inbound),
            locale=inbound.locale or self.settings.default_locale,
            country=inbound.country or self.settings.default_country,
            address=Address(channel=inbound.channel, to=inbound.user),
            queue=queue,
        )
        for reply in () if handled.replayed else handled.replies:
            if reply.kind == "interrupt":
                self.metrics.interrupts.labels(kind=reply.call and "emergency" or "urgent").inc()
            if reply.kind == "outcome":
                self.metrics.assessments.labels(level=reply.parts[0].key.split(".")[1]).inc()
        return handled

    async def telegram_update(
        self, channel: TelegramChannel, update: Mapping[str, Any], *, webhook: bool = False
    ) -> WebhookAnswer:
        """Handle one update (from the webhook or long polling); the status Telegram should get (500: retry) and,
        from a `webhook`, a Bot API call for Telegram to make with the response."""
        staff_chat = self.settings.staff_telegram_chat_id
        press = parse_staff_press(update, staff_chat) if staff_chat is not None else None
        if press is not None:
            status = await self.staff_press(
                channel, press.callback_id, press.chat_id, press.message_id, press.data, press.who
            )
            return WebhookAnswer(status)
        inbound = channel.parse(update)
        if inbound is None:
            return WebhookAnswer(200)
        self.metrics.telegram.messages_in.inc()
        try:
            if inbound.event is None:
                locale = inbound.locale or self.settings.default_locale
                self.background(channel.notice(inbound.user, inbound.notice or "", locale, self.number(inbound)))
                return WebhookAnswer(200)
            # With a worker, the replies go through the send queue. A button press is then answered in the
            # webhook's response (Telegram makes the call as it takes the response): the spinner stops at once, and
            # the worker has one Bot API call less to make. Losing that answer costs nothing but a slower spinner.
            answer = webhook and inbound.callback_id is not None
            job = send_job(self.participant(inbound), self.message_key(inbound), inbound, answer_press=not answer)
            handled = await self.run(inbound, inbound.event, job if await self.workers_alive() else None)
        except Exception:
            self.metrics.telegram.errors.inc()
            log.exception("telegram update failed")
            return WebhookAnswer(500)
        if handled.queued:  # a worker sends the replies from the send queue
            if answer:
                return WebhookAnswer(200, {"method": "answerCallbackQuery", "callback_query_id": inbound.callback_id})
            return WebhookAnswer(200)
        delivery = asyncio.create_task(_deliver_telegram(self, channel, inbound, handled))
        self.track(delivery)
        # Wait a little, so a failed send is retried by Telegram (the retry resumes after what was sent), but never
        # hold the webhook near Telegram's timeout: a slow send finishes in the background.
        done, _ = await asyncio.wait({delivery}, timeout=self.settings.telegram_delivery_budget_s)
        return WebhookAnswer(500 if done and not delivery.result() else 200)

    async def workers_alive(self) -> bool:
        """Whether a worker is running to drain the send queue (checked at most once a second). Without one, the
        web process sends Telegram replies itself."""
        if self.services is None:
            return False
        now = time.monotonic()
        if now >= self._alive_checked_at + WORKERS_CHECK_S:
            self._alive_checked_at = now
            try:
                self._alive = bool(await self.services.client.exists(keys.workers_alive()))
            except RedisError:
                self._alive = False
        return self._alive

    async def staff_press(
        self, channel: TelegramChannel, callback_id: str, chat_id: str, message_id: int, data: str, who: str
    ) -> int:
        """Acknowledge or Resolve pressed on a case card: record it, answer the press, redraw the card."""
        action = parse_button(data)
        if action is None or self.services is None:
            await channel.answer_callback(callback_id, "")
            return 200
        try:
            before = await self.staff_action(action, who)
            case = await self.services.cases.get(action.case_id)
        except RedisError:
            self.metrics.errors.labels(where="staff").inc()
            return 500  # Telegram retries the press
        locale = self.settings.default_locale
        await channel.answer_callback(callback_id, self.staff_reply(action, before, locale))
        if case is not None:
            await channel.edit(chat_id, message_id, card(case, self.content.catalog, locale))
        return 200

    async def staff_action(self, action: StaffAction, who: str) -> str:
        assert self.services is not None
        return await act(self.services.cases, self.services.audit, action, who, self.clock.now())

    def staff_reply(self, action: StaffAction, before: str, locale: str) -> str:
        key = (
            "staff.reply.resolve_done"
            if action.action == "resolve" and before not in ("resolved", "missing")
            else (f"staff.reply.{before}")
        )
        return self.content.catalog.render(Text(key, (("case", action.case_id),)), locale)

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
    clock = clock or SystemClock()
    client = redis_client(settings.redis_url) if settings.redis_url else None
    services = Services.build(settings, content, client, clock) if client is not None and store is None else None
    if services is not None:
        store, service = services.store, services.service
    else:
        # No Redis: no check-ins and no staff cases (nothing durable to keep them in), so the engine must not
        # promise them.
        store = store or MemoryConversationStore(ttl=settings.conversation_ttl)
        policy = dataclasses.replace(settings.policy(), escalation="off", checkins={})
        service = ConversationService(content, store, clock, policy)
    # With Redis, the limiter shared through it holds Telegram's limits across processes; without, PTB's own.
    telegram, sms = make_channels(settings, content, per_process_limiter=services is None)
    counters = Metrics()
    limiter = services.limiter if services else None
    deliverer = Deliverer(delivery_limits(settings), store, limiter, telegram, sms, counters)
    app_state = App(settings, content, store, service, counters, deliverer, services, telegram, sms, clock)

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
        answer = (
            await app_state.telegram_update(channel, update, webhook=True)
            if isinstance(update, dict)
            else WebhookAnswer(200)
        )
        app_state.metrics.telegram.latency.observe(time.perf_counter() - started)
        if answer.call is not None and answer.status == 200:
            return JSONResponse(answer.call)
        return Response(status_code=answer.status)

    async def sms_webhook(request: Request) -> Response:
        channel = app_state.sms
        if channel is None:
            return PlainTextResponse("sms is not configured", status_code=404)
        started = time.perf_counter()
        try:
            form = parse_form(await _body(request))
        except _TooLarge:
            return PlainTextResponse("bad request", status_code=400)
        url = (settings.public_base_url or "").rstrip("/") + SMS_PATH
        if not channel.valid_signature(url, form, request.headers.get("x-twilio-signature")):
            return PlainTextResponse("forbidden", status_code=403)
        staff = parse_sms(form.get("Body", "")) if form.get("From", "").strip() in settings.oncall else None
        if staff is not None and app_state.services is not None:
            try:
                before = await app_state.staff_action(
                    staff, "on-call " + str(settings.oncall.index(form["From"].strip()) + 1)
                )
            except RedisError:
                return Response(status_code=500)
            reply = app_state.staff_reply(staff, before, settings.default_locale)
            return Response(channel.twiml_plain(reply), media_type="application/xml")
        try:
            inbound = channel.parse(form)
        except SmsFormError:
            return PlainTextResponse("bad request", status_code=400)
        app_state.metrics.sms.messages_in.inc()
        try:
            if inbound.event is None:
                body = channel.twiml_text(
                    inbound.notice or "", inbound.locale or settings.default_locale, number=app_state.number(inbound)
                )
            else:
                handled = await app_state.run(inbound, inbound.event)
                body = channel.twiml(handled.replies, handled.locale)
                app_state.metrics.sms.messages_out.inc(len(handled.replies))
        except Exception:
            app_state.metrics.sms.errors.inc()
            log.exception("sms webhook failed")
            return Response(status_code=500)
        app_state.metrics.sms.latency.observe(time.perf_counter() - started)
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
            Mount("/staff", app=staff_console(settings, services)),
        ],
        lifespan=lifespan,
    )
    app.state.kneebot = app_state
    return app


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _TooLarge
    return body


def send_job(participant: str, message_key: str, inbound: Inbound, *, answer_press: bool = True) -> dict[str, str]:
    """A send-queue job: whose replies to which message, the chat to send to, the button press to answer (unless
    the webhook's response answers it) and the message whose keyboard to remove."""
    job = {"p": participant, "k": message_key, "to": inbound.user}
    if inbound.callback_id and answer_press:
        job["cb"] = inbound.callback_id
    if inbound.button_message_id is not None:
        job["bm"] = str(inbound.button_message_id)
    return job


async def _deliver_telegram(app_state: App, channel: TelegramChannel, inbound: Inbound, handled: Handled) -> bool:
    """Send what this update has not sent yet, recording progress after each message. False: worth a retry."""
    participant, key = app_state.participant(inbound), app_state.message_key(inbound)
    address = Address(channel="telegram", to=inbound.user)
    try:
        if inbound.callback_id or inbound.button_message_id:
            await channel.acknowledge(inbound.callback_id, inbound.user, inbound.button_message_id)
        await app_state.deliverer.deliver(participant, address, key, handled.replies, handled.locale)
        return True
    except OptedOut:
        log.info("telegram recipient blocked the bot")
        await app_state.service.handle(participant, CommandReceived("stop"), address=address)
        return True
    except (DeliveryFailed, RedisError) as exc:
        log.warning("telegram delivery failed (%s)", type(exc).__name__)
        return False
