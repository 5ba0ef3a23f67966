"""The web server: Telegram and Twilio webhooks, health and metrics (Starlette).

A Telegram turn is stored before its replies go. An emergency or urgent reply (and whatever a process without its
store can say) is sent by this process at once, needing nothing but Telegram; other replies go to the send queue
while a worker runs, else this process sends them too. Either way a failed send is retried with backoff, and while
no worker runs this process also reads the send queue, so jobs queued for a worker that died go out within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from bot.app.settings import Settings
from bot.app.staff_console import staff_console
from bot.app.wiring import Services, delivery_limits, id_secret, make_channels, redis_client
from bot.channels.base import Inbound
from bot.channels.sms import SmsChannel, SmsFormError, parse_form
from bot.channels.telegram import TelegramChannel, TelegramSendError, parse_staff_press
from bot.clock import Clock, SystemClock
from bot.content.loader import Content, load_content
from bot.shell.conversation import ConversationService, Handled
from bot.shell.delivery import Deliverer
from bot.shell.metrics import Metrics
from bot.shell.replies import Job, QueueSender, ReplySender
from bot.shell.staff import StaffAction, act, card, parse_button, parse_sms
from bot.storage import keys
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore, MemoryConversationStore
from bot.storage.sendqueue import WEB, Heartbeats, SendQueue, workers
from bot.triage.effects import Param, SendReply, Text
from bot.triage.events import Event, MessageReceived

log = logging.getLogger("kneebot.server")
TELEGRAM_PATH = "/telegram/webhook"
SMS_PATH = "/twilio/sms"
MAX_BODY = 64 * 1024
BODY_TIMEOUT_S = 10.0  # a client still sending its body after this gets 408 (providers send theirs at once)
WORKERS_CHECK_S = 1.0  # how often the web process looks for workers (and, while none runs, reads the send queue)
SHUTDOWN_GRACE_S = 10.0  # replies still being sent at shutdown get this long, then go to the send queue


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
    replies: ReplySender
    services: Services | None = None  # with Redis: check-ins, cases, audit and the shared rate limiter
    telegram: TelegramChannel | None = None
    sms: SmsChannel | None = None
    clock: Clock = field(default_factory=SystemClock)
    rescuer: QueueSender | None = None  # with Redis and Telegram: reads the send queue while no worker runs
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _alive: bool = False  # a worker drains the send queue (kept by the rescue loop)

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
        if not handled.replayed:
            self.count(handled.replies)
        return handled

    def count(self, replies: Sequence[SendReply]) -> None:
        for reply in replies:
            if reply.kind == "interrupt":
                self.metrics.interrupts.labels(kind=reply.call and "emergency" or "urgent").inc()
            if reply.kind == "outcome":
                self.metrics.assessments.labels(level=reply.parts[0].key.split(".")[1]).inc()

    async def telegram_update(
        self, channel: TelegramChannel, update: Mapping[str, Any], *, webhook: bool = False
    ) -> WebhookAnswer:
        """Handle one update (from the webhook or long polling); the status Telegram should get (500: retry, when
        the turn itself failed) and, from a `webhook`, a Bot API call for Telegram to make with the response."""
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
        locale = inbound.locale or self.settings.default_locale
        if inbound.group_chat:
            return await self.group_message(inbound, locale)
        if inbound.event is None:
            notice = SendReply((Text(inbound.notice or "", (("number", self.number(inbound)),)),))
            return await self.send(Job(None, None, inbound.user), (notice,), locale, at_once=True, record=False)
        job = Job(
            self.participant(inbound),
            self.message_key(inbound),
            inbound.user,
            inbound.callback_id,
            inbound.button_message_id,
        )
        # With a worker, the replies go through the send queue (unless urgent: those go from here, at once). A
        # button press is then answered in the webhook's response (Telegram makes the call as it takes the
        # response): the spinner stops at once, and the worker has one Bot API call less to make. Losing that
        # answer costs nothing but a slower spinner.
        answer = webhook and inbound.callback_id is not None
        try:
            queue = job.fields(answer_press=not answer) if await self.workers_alive() else None
            handled = await self.run(inbound, inbound.event, queue)
        except Exception:
            self.metrics.telegram.errors.inc()
            log.exception("telegram update failed")
            return WebhookAnswer(500)
        if handled.queued:  # a worker sends the replies from the send queue
            if answer:
                return WebhookAnswer(200, {"method": "answerCallbackQuery", "callback_query_id": inbound.callback_id})
            return WebhookAnswer(200)
        if handled.deleted:  # nothing about the person is recorded any more, not even what was sent
            job = dataclasses.replace(job, participant=None, key=None)
        at_once = handled.urgent or handled.offline
        return await self.send(job, handled.replies, handled.locale, at_once=at_once, record=not handled.offline)

    async def group_message(self, inbound: Inbound, locale: str) -> WebhookAnswer:
        """A group is no place for a conversation, but a red flag said there still gets the emergency message. The
        staff group's own talk is left alone; any other group is asked to write in private."""
        event = inbound.event
        words = event.text if isinstance(event, MessageReceived) else ""
        replies = self.service.red_flag_reply(words, locale, None) if words else ()
        job = Job(None, None, inbound.user)
        if replies:
            self.count(replies)
            return await self.send(job, replies, locale, at_once=True, record=False)
        if inbound.user == str(self.settings.staff_telegram_chat_id):
            return WebhookAnswer(200)
        notice = SendReply((Text(inbound.notice or "notice.group", (("number", self.number(inbound)),)),))
        return await self.send(job, (notice,), locale, at_once=True, record=False)

    async def send(
        self, job: Job, replies: Sequence[SendReply], locale: str, *, at_once: bool, record: bool
    ) -> WebhookAnswer:
        """Send the replies in the background (retried there when a send fails), waiting for them a little: never
        near Telegram's timeout, so a slow Bot API finishes after the webhook has answered."""
        if not replies and job.callback_id is None and job.button_message_id is None:
            return WebhookAnswer(200)
        sending = asyncio.create_task(self.replies.send(job, replies, locale, at_once=at_once, record=record))
        self.track(sending)
        await asyncio.wait({sending}, timeout=self.settings.telegram_delivery_budget_s)
        return WebhookAnswer(200)

    async def workers_alive(self) -> bool:
        """Whether a worker is running to drain the send queue, as the rescue loop last found (every second, in the
        background: a webhook never waits on Redis for it). Without one, the web process sends Telegram replies
        itself."""
        return self._alive

    async def rescue_loop(self, stop: asyncio.Event) -> None:
        """Until `stop`: find whether a worker runs, keep this process's own queued jobs retried and, while no
        worker runs, read the send queue: jobs queued while a worker was still thought alive, and those of a worker
        that died, go out within seconds instead of waiting for a worker to start."""
        rescuer = self.rescuer
        assert rescuer is not None
        while not stop.is_set():
            try:
                await rescuer.beat()
                self._alive = workers(await rescuer.heartbeats.alive()) > 0
                await rescuer.retry_own()
                if not self._alive:
                    await rescuer.take_over()
                    while await rescuer.read(None):
                        pass
            except RedisError as exc:
                self._alive = False
                rescuer.queue.forget_group()
                log.debug("send queue unavailable (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WORKERS_CHECK_S)
        await rescuer.stop()

    async def drain(self, grace_s: float) -> None:
        """At shutdown: let replies still being sent finish within `grace_s`; the rest are handed on (cancelled
        sends go to the send queue when their replies are stored, else an error line says so)."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

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
        store = store or MemoryConversationStore(ttl=settings.conversation_ttl, secret=id_secret(settings))
        policy = dataclasses.replace(settings.policy(), escalation="off", checkins={})
        service = ConversationService(content, store, clock, policy)
    # With Redis, the limiter shared through it holds Telegram's limits across processes; without, PTB's own.
    telegram, sms = make_channels(settings, content, per_process_limiter=services is None)
    counters = Metrics()
    limiter = services.limiter if services else None
    deliverer = Deliverer(delivery_limits(settings), store, limiter, telegram, sms, counters)
    queue = SendQueue(services.client) if services is not None else None
    replies = ReplySender(deliverer, service, queue, counters)
    rescuer = None
    if services is not None and queue is not None and telegram is not None:
        name = f"{WEB}{socket.gethostname()}-{os.getpid()}-{id(replies):x}"
        rescuer = QueueSender(name, queue, Heartbeats(services.client), replies, services.audit, clock)
    app_state = App(
        settings, content, store, service, counters, deliverer, replies, services, telegram, sms, clock, rescuer
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if app_state.telegram:
            try:
                await app_state.telegram.start()
            except TelegramSendError as exc:  # `kneebot serve` checked the token: a passing outage, sent through
                log.warning("telegram not reachable at start (%s); replies are retried as they come", exc)
        stop = asyncio.Event()
        rescuing = asyncio.create_task(app_state.rescue_loop(stop)) if app_state.rescuer else None
        try:
            yield
        finally:
            stop.set()
            if rescuing is not None:
                await rescuing
            await app_state.drain(SHUTDOWN_GRACE_S)
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
        except _Unfinished as unfinished:
            return unfinished.response
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
        except _Unfinished as unfinished:
            return unfinished.response
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


class _Unfinished(Exception):
    """The client did not send the whole body: it went away (one log line, no traceback), or was too slow."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def _body(request: Request) -> bytes:
    body = b""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    raise _TooLarge
    except ClientDisconnect:
        log.info("client went away before sending the whole request; path=%s", request.url.path)
        raise _Unfinished(Response(status_code=400)) from None
    except TimeoutError:
        log.info("client too slow sending the request body; path=%s", request.url.path)
        timeout = PlainTextResponse("request timeout", status_code=408, headers={"Connection": "close"})
        raise _Unfinished(timeout) from None
    return body
