"""The web server: each channel's webhook, health and metrics (Starlette).

A channel whose webhook's response carries the replies (SMS in TwiML) answers with them. Otherwise (Telegram) the
turn is stored before its replies go. An emergency or urgent reply (and whatever a process without its
store can say) is sent by this process at once, needing nothing but Telegram; other replies go to the send queue
while a worker runs, else this process sends them too. Either way a failed send is retried with backoff, and while
no worker runs this process also reads the send queue, so jobs queued for a worker that died go out within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from bot.app.settings import Settings
from bot.app.staff_console import staff_console
from bot.app.wiring import Services, id_secret, make_channels, redis_client, staff_targets, staff_words
from bot.channels.base import Channel, Channels, FormError, Inbound, SendFailed, WebhookReply
from bot.clock import Clock, SystemClock
from bot.content.loader import Content, load_content
from bot.shell.casework import CaseWork
from bot.shell.conversation import ConversationService, Handled
from bot.shell.delivery import Deliverer
from bot.shell.metrics import Metrics
from bot.shell.replies import QueueSender, ReplySender
from bot.shell.staff import StaffAction, StaffTargets, card, staff_action
from bot.storage import keys
from bot.storage.casework import CaseDesk
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore, MemoryConversationStore
from bot.storage.sendqueue import WEB, Heartbeats, SendJob, SendQueue, workers
from bot.triage.effects import Param, SendReply, Text
from bot.triage.events import Event, MessageReceived

log = logging.getLogger("kneebot.server")
MAX_BODY = 64 * 1024
BODY_TIMEOUT_S = 10.0  # a client still sending its body after this gets 408 (providers send theirs at once)
WORKERS_CHECK_S = 1.0  # how often the web process looks for workers (and, while none runs, reads the send queue)
SHUTDOWN_GRACE_S = 10.0  # replies still being sent at shutdown get this long, then go to the send queue
FORBIDDEN = WebhookReply(403, b"forbidden", "text/plain")
BAD_REQUEST = WebhookReply(400, b"bad request", "text/plain")


@dataclass
class App:
    settings: Settings
    content: Content
    store: ConversationStore
    service: ConversationService
    metrics: Metrics
    deliverer: Deliverer
    replies: ReplySender
    channels: Channels
    staff: StaffTargets
    services: Services | None = None  # with Redis: check-ins, cases, audit and the shared rate limiter
    clock: Clock = field(default_factory=SystemClock)
    rescuer: QueueSender | None = None  # with Redis, for channels sent after the webhook: reads the send queue
    work: CaseWork | None = None  # with Redis: what staff do to cases, by any route
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    workers_seen: bool = False  # a worker drains the send queue, as the rescue loop last found

    def __post_init__(self) -> None:
        self._id_secret = self.settings.id_hash_secret.get_secret_value().encode()

    def participant(self, channel: Channel, inbound: Inbound) -> str:
        return keys.participant_id(self._id_secret, channel.prefix, inbound.user)

    def number(self, inbound: Inbound) -> Param:
        return self.service.policy.emergency(inbound.country).param

    def message_key(self, inbound: Inbound) -> str:
        return f"{inbound.channel}:{inbound.message_id}"

    async def webhook(self, channel: Channel, headers: Mapping[str, str], body: bytes) -> WebhookReply:
        """One webhook request of a channel: checked as the channel checks them, parsed, handled."""
        url = (self.settings.public_base_url or "").rstrip("/") + channel.path
        if not channel.verify(url, headers, body):
            return FORBIDDEN
        try:
            inbound = channel.parse(body)
        except FormError:
            return BAD_REQUEST
        if inbound is None:
            return WebhookReply()
        return await self.receive(channel, inbound, webhook=True)

    async def receive(self, channel: Channel, inbound: Inbound, *, webhook: bool = False) -> WebhookReply:
        """Handle one inbound message (from a webhook, or Telegram's long polling): a staff member answering a case,
        a group chat, a message kneebot cannot read, or a conversation's turn. The answer for the webhook (500 asks
        the provider to retry: the turn itself failed)."""
        self.metrics.channel[channel.name].messages_in.inc()
        locale = inbound.locale or self.settings.default_locale
        who = self.staff.who(channel.name, inbound.user, inbound.sender_name)
        action = staff_action(inbound.event) if who is not None and self.work is not None else None
        if action is not None and who is not None:
            return await self.staff_answer(channel, inbound, action, who)
        if self.work is not None and self.staff.oncall_number(channel.name, inbound.user) is not None:
            return await self.oncall_message(channel, inbound, locale)
        if inbound.group_chat:
            return await self.group_message(channel, inbound, locale)
        if inbound.event is None:
            notice = SendReply((Text(inbound.notice or "", (("number", self.number(inbound)),)),))
            job = SendJob(None, None, channel.name, inbound.user, inbound.callback_id, inbound.button_message_id)
            return await self.answer(channel, job, (notice,), locale, at_once=True, record=False)
        if channel.replies_in_response:
            return await self.turn_in_response(channel, inbound, inbound.event)
        return await self.turn_sent_after(channel, inbound, inbound.event, webhook=webhook)

    async def run(self, channel: Channel, inbound: Inbound, event: Event, queue: SendJob | None = None) -> Handled:
        handled = await self.service.handle(
            self.participant(channel, inbound),
            event,
            message_id=self.message_key(inbound),
            locale=inbound.locale or self.settings.default_locale,
            country=inbound.country or self.settings.default_country,
            address=Address(channel=channel.name, to=inbound.user),
            queue=queue,
        )
        if not handled.replayed:
            self.count(handled.replies)
        return handled

    async def turn_in_response(self, channel: Channel, inbound: Inbound, event: Event) -> WebhookReply:
        """A channel whose webhook's response carries the replies (TwiML)."""
        series = self.metrics.channel[channel.name]
        try:
            handled = await self.run(channel, inbound, event)
        except Exception:
            series.errors.inc()
            log.exception("%s webhook failed", channel.name)
            return WebhookReply(500)
        series.messages_out.inc(len(handled.replies))
        return channel.respond(handled.replies, handled.locale)

    async def turn_sent_after(self, channel: Channel, inbound: Inbound, event: Event, *, webhook: bool) -> WebhookReply:
        """A channel whose replies go by API calls once the turn is stored. With a worker, through the send queue
        (unless urgent: those go from here, at once). A button press is then answered in the webhook's response,
        where the provider allows it (Telegram makes the call as it takes the response): the spinner stops at once,
        and the worker has one call less to make. Losing that answer costs nothing but a slower spinner."""
        job = SendJob(
            self.participant(channel, inbound),
            self.message_key(inbound),
            channel.name,
            inbound.user,
            inbound.callback_id,
            inbound.button_message_id,
        )
        pressed = channel.answer_in_response(inbound.callback_id) if webhook and inbound.callback_id else None
        try:
            queue = (replace(job, callback_id=None) if pressed else job) if await self.workers_alive() else None
            handled = await self.run(channel, inbound, event, queue)
        except Exception:
            self.metrics.channel[channel.name].errors.inc()
            log.exception("%s update failed", channel.name)
            return WebhookReply(500)
        if handled.queued:  # a worker sends the replies from the send queue
            return pressed or WebhookReply()
        if handled.deleted:  # nothing about the person is recorded any more, not even what was sent
            job = replace(job, participant=None, key=None)
        at_once = handled.urgent or handled.offline
        return await self.answer(
            channel, job, handled.replies, handled.locale, at_once=at_once, record=not handled.offline
        )

    async def group_message(self, channel: Channel, inbound: Inbound, locale: str) -> WebhookReply:
        """A group is no place for a conversation, but a red flag said there still gets the emergency message. The
        staff group's own talk is left alone; any other group is asked to write in private."""
        event = inbound.event
        words = event.text if isinstance(event, MessageReceived) else ""
        replies = self.service.red_flag_reply(words, locale, None) if words else ()
        job = SendJob(None, None, channel.name, inbound.user, inbound.callback_id)
        if replies:
            self.count(replies)
            return await self.answer(channel, job, replies, locale, at_once=True, record=False)
        if self.staff.who(channel.name, inbound.user, None) is not None or inbound.callback_id:
            await channel.acknowledge(inbound.user, inbound.callback_id, None)
            return WebhookReply()
        notice = SendReply((Text(inbound.notice or "notice.group", (("number", self.number(inbound)),)),))
        return await self.answer(channel, job, (notice,), locale, at_once=True, record=False)

    async def oncall_message(self, channel: Channel, inbound: Inbound, locale: str) -> WebhookReply:
        """Anything but ACK or RESOLVE from an on-call number: never a conversation. A red flag in it still gets the
        emergency message (as in a group); anything else, how to answer a page."""
        event = inbound.event
        words = event.text if isinstance(event, MessageReceived) else ""
        replies = self.service.red_flag_reply(words, locale, inbound.country) if words else ()
        if replies:
            self.count(replies)
        else:
            replies = (SendReply((Text("staff.oncall_help"),)),)
        job = SendJob(None, None, channel.name, inbound.user, inbound.callback_id)
        return await self.answer(channel, job, replies, self.settings.default_locale, at_once=True, record=False)

    async def answer(
        self,
        channel: Channel,
        job: SendJob,
        replies: Sequence[SendReply],
        locale: str,
        *,
        at_once: bool,
        record: bool,
    ) -> WebhookReply:
        """The replies: in the webhook's response, where the channel has them there; else sent in the background
        (retried there when a send fails), waiting for them a little: never near the provider's timeout, so a slow
        API finishes after the webhook has answered."""
        if channel.replies_in_response:
            return channel.respond(replies, locale)
        if not replies and job.callback_id is None and job.button_message_id is None:
            return WebhookReply()
        sending = asyncio.create_task(self.replies.send(job, replies, locale, at_once=at_once, record=record))
        self.track(sending)
        await asyncio.wait({sending}, timeout=self.settings.telegram_delivery_budget_s)
        return WebhookReply()

    def count(self, replies: Sequence[SendReply]) -> None:
        for reply in replies:
            if reply.kind == "interrupt":
                self.metrics.interrupts.labels(kind=reply.call and "emergency" or "urgent").inc()
            if reply.kind == "outcome":
                self.metrics.assessments.labels(level=reply.parts[0].key.split(".")[1]).inc()

    async def workers_alive(self) -> bool:
        """Whether a worker is running to drain the send queue, as the rescue loop last found (every second, in the
        background: a webhook never waits on Redis for it). Without one, the web process sends the replies itself."""
        return self.workers_seen

    async def rescue_loop(self, stop: asyncio.Event) -> None:
        """Until `stop`: find whether a worker runs, keep this process's own queued jobs retried and, while no
        worker runs, read the send queue: jobs queued while a worker was still thought alive, and those of a worker
        that died, go out within seconds instead of waiting for a worker to start."""
        rescuer = self.rescuer
        assert rescuer is not None
        while not stop.is_set():
            try:
                await rescuer.beat()
                self.workers_seen = workers(await rescuer.heartbeats.alive()) > 0
                await rescuer.retry_own()
                if not self.workers_seen:
                    await rescuer.take_over()
                    while await rescuer.read(None):
                        pass
            except RedisError as exc:
                self.workers_seen = False
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

    async def staff_answer(self, channel: Channel, inbound: Inbound, action: StaffAction, who: str) -> WebhookReply:
        """Acknowledge or Resolve, pressed on a case card or written from an on-call number: done as the console
        does it (every card of the case redrawn, a person talking to staff handed back), then answered (the press,
        or the webhook's response); the card pressed is redrawn too, should the case not know it."""
        work = self.work
        assert work is not None
        try:
            if action.action == "ack":
                before = await work.acknowledge(action.case_id, who, channel.name)
            else:
                before, _ = await work.resolve(action.case_id, who, channel.name)
            case = await work.desk.cases.get(action.case_id)
        except RedisError:
            self.metrics.errors.labels(where="staff").inc()
            return WebhookReply(500)  # the provider retries
        locale = self.settings.default_locale
        text = self.staff_reply(action, before, locale)
        await channel.acknowledge(inbound.user, inbound.callback_id, None, text)
        pressed = inbound.button_message_id
        if case is not None and pressed is not None and pressed not in case.cards:
            await channel.redraw(inbound.user, pressed, card(case, work.words))
        return channel.respond_text(text)

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
    client = redis_client(settings.redis_url) if settings.redis_url and store is None else None
    # With Redis, the limiter shared through it holds the providers' limits across processes; without, PTB's own.
    channels = make_channels(settings, content, per_process_limiter=client is None)
    services = Services.build(settings, content, client, clock, channels) if client is not None else None
    if services is not None:
        store, service = services.store, services.service
    else:
        # No Redis: no check-ins and no staff cases (nothing durable to keep them in), so the engine must not
        # promise them.
        store = store or MemoryConversationStore(ttl=settings.conversation_ttl, secret=id_secret(settings))
        policy = dataclasses.replace(settings.policy(), escalation="off", checkins={})
        service = ConversationService(content, store, clock, policy)
    counters = Metrics(channels)
    deliverer = Deliverer(channels, store, services.limiter if services else None, counters)
    queue = SendQueue(services.client) if services is not None else None
    replies = ReplySender(deliverer, service, queue, counters)
    rescuer = None
    if queue is not None and any(not channel.replies_in_response for channel in channels.values()):
        assert services is not None
        name = f"{WEB}{socket.gethostname()}-{os.getpid()}-{id(replies):x}"
        rescuer = QueueSender(name, queue, Heartbeats(services.client), replies, services.audit, clock)
    staff = staff_targets(settings)
    work = None
    if services is not None:
        words = staff_words(settings, content)
        desk = CaseDesk(services.cases)
        work = CaseWork(desk, services.audit, deliverer, service, staff, words, clock, settings.retention)
    app_state = App(
        settings, content, store, service, counters, deliverer, replies, channels, staff, services, clock, rescuer,
        work=work,
    )  # fmt: skip

    app = Starlette(
        routes=[
            *(Route(channel.path, _webhook(app_state, channel), methods=["POST"]) for channel in channels.values()),
            Route("/healthz", _healthz, methods=["GET"]),
            Route("/metrics", _metrics, methods=["GET"]),
            Mount("/staff", app=staff_console(settings, services, work)),
        ],
        lifespan=_lifespan,
    )
    app.state.kneebot = app_state
    return app


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    """The channels started (one out of reach is a warning: its sends are retried), the rescue loop while serving;
    then replies still being sent get their grace, and everything is closed."""
    state: App = app.state.kneebot
    for channel in state.channels.values():
        try:
            await channel.start()
        except SendFailed as exc:  # `kneebot serve` checked the token: a passing outage, sent through
            log.warning("%s not reachable at start (%s); replies are retried as they come", channel.name, exc)
    stop = asyncio.Event()
    rescuing = asyncio.create_task(state.rescue_loop(stop)) if state.rescuer else None
    try:
        yield
    finally:
        stop.set()
        if rescuing is not None:
            await rescuing
        await state.drain(SHUTDOWN_GRACE_S)
        await state.channels.stop()
        await state.store.aclose()


def _webhook(state: App, channel: Channel) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a channel's webhook: the body read within its limits, then `App.webhook`."""
    series = state.metrics.channel[channel.name]

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await _body(request)
        except _TooLarge:
            return PlainTextResponse("bad request", status_code=400)
        except _Unfinished as unfinished:
            return unfinished.response
        answer = await state.webhook(channel, request.headers, body)
        series.latency.observe(time.perf_counter() - started)
        return Response(answer.body, status_code=answer.status, media_type=answer.media_type)

    return endpoint


async def _healthz(request: Request) -> Response:
    ok = await request.app.state.kneebot.store.ping()
    return JSONResponse({"ok": ok, "store": "up" if ok else "down"}, status_code=200 if ok else 503)


async def _metrics(request: Request) -> Response:
    return Response(request.app.state.kneebot.metrics.render(), media_type="text/plain; version=0.0.4")


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
