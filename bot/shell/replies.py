"""Sending a message's replies after the turn is stored, for a channel whose webhook does not carry them (Telegram):
from the web process (at once when urgent) or from the send queue (workers, and the web process while no worker runs).
A failed send is retried with backoff, and when the retries run out it is handed on or given up with an error line:
never dropped without a word."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from redis.exceptions import RedisError

from bot.clock import Clock
from bot.shell.conversation import ConversationService, decode_replies, urgent
from bot.shell.delivery import Deliverer, DeliveryFailed, OptedOut
from bot.shell.metrics import Metrics
from bot.storage.audit import AuditLog
from bot.storage.checkins import Address
from bot.storage.sendqueue import Entry, Heartbeats, SendJob, SendQueue
from bot.triage.effects import SendReply
from bot.triage.events import CommandReceived

log = logging.getLogger("kneebot.replies")
# Waits before each retry of a send from the web process: about two minutes in all, Telegram's retry_after honoured.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0)
MAX_ASKED_WAIT_S = 60.0
# A queued job is retried by the reader holding it once idle this long after its n-th delivery (doubling, capped),
# and given up (with an error line and an audit entry) after MAX_DELIVERIES.
QUEUE_RETRY_BASE_S = 1.0
QUEUE_RETRY_MAX_S = 30.0
MAX_DELIVERIES = 10
HEARTBEAT_EVERY_S = 1.0
HEARTBEAT_TTL_S = 3.0  # a reader silent this long is dead: its jobs are taken over
TAKEOVER_MIN_IDLE_MS = 1000
BATCH = 64
CONCURRENCY = 32  # conversations sent to at once (their sends wait on the shared limiter)


def address(job: SendJob) -> Address:
    return Address(channel=job.channel, to=job.to)


class ReplySender:
    """Sends one message's replies (`send`, retried; `attempt`, once), opting the person out if they blocked us."""

    def __init__(
        self,
        deliverer: Deliverer,
        service: ConversationService,
        queue: SendQueue | None,
        metrics: Metrics | None = None,
        *,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.deliverer, self.service, self.queue, self.metrics = deliverer, service, queue, metrics
        self.retry_delays_s, self._sleep = tuple(retry_delays_s), sleep

    async def send(
        self, job: SendJob, replies: Sequence[SendReply], locale: str, *, at_once: bool, record: bool = True
    ) -> bool:
        """Send, retrying a failure that may pass with backoff; True when all went (or the person opted out).
        When the retries run out, a job whose replies are stored goes to the send queue for a later try; anything
        else is given up with an error line. `record`: the replies' dedupe record exists (not after a deletion, nor
        for a group chat or a process without its store)."""
        try:
            return await self._send(job, replies, locale, at_once=at_once, record=record)
        except asyncio.CancelledError:  # the process is stopping: hand it on rather than drop it
            await self.hand_on(job, "the process stopped", stored=record)
            raise

    async def _send(
        self, job: SendJob, replies: Sequence[SendReply], locale: str, *, at_once: bool, record: bool
    ) -> bool:
        await self.acknowledge(job)
        done = 0
        reason = "no attempt"
        asked_s = 0.0  # the wait Telegram asked for (429), if longer than the backoff's
        for wait_s in (0.0, *self.retry_delays_s):
            if wait_s:
                await self._sleep(max(wait_s, min(asked_s, MAX_ASKED_WAIT_S)))
            asked_s = 0.0
            try:
                await self._deliver(job, replies, locale, at_once=at_once, record=record, already=done)
                return True
            except OptedOut:
                await self.opt_out(job)
                return True
            except DeliveryFailed as exc:
                done, reason, asked_s = max(done, exc.done), str(exc), exc.asked_s or 0.0
                if exc.retry_after_s <= 0:
                    break
            except RedisError as exc:  # the limiter or the record: only replies not sent at once need them
                reason = f"redis unavailable ({type(exc).__name__})"
            except Exception as exc:  # a bug: the reply still deserves its retries, and an error line if they fail
                log.error("%s send failed unexpectedly: %s", job.channel, type(exc).__name__)
                reason = f"unexpected {type(exc).__name__}"
        await self.hand_on(job, reason, stored=record)
        return False

    async def attempt(self, job: SendJob) -> str:
        """One try at a queued job's replies, from their dedupe record: sent, opted_out, gone (nothing stored),
        failed (not worth a retry) or retry."""
        if job.participant is None or job.key is None:
            return "gone"
        await self.acknowledge(job)
        loaded = await self.deliverer.store.load(job.participant, job.key)
        if loaded.replay is None:
            return "gone"
        replies = decode_replies(loaded.replay)
        locale = loaded.session.locale if loaded.session else "en"
        try:
            await self._deliver(job, replies, locale, at_once=urgent(replies), record=True)
        except OptedOut:
            await self.opt_out(job)
            return "opted_out"
        except DeliveryFailed as exc:
            if exc.retry_after_s <= 0:
                log.warning("queued reply not deliverable: %s", exc)
                return "failed"
            return "retry"
        return "sent"

    async def _deliver(
        self, job: SendJob, replies: Sequence[SendReply], locale: str, *, at_once: bool, record: bool, already: int = 0
    ) -> None:
        participant, key = (job.participant, job.key) if record else (None, None)
        await self.deliverer.deliver(participant, address(job), key, replies, locale, at_once=at_once, already=already)

    async def acknowledge(self, job: SendJob) -> None:
        """Stop the pressed button's spinner and remove its buttons (best effort: the channel logs a failure)."""
        if job.callback_id or job.button_message_id is not None:
            with contextlib.suppress(DeliveryFailed):  # a channel not configured here: nothing to answer
                await self.deliverer.channel(job.channel).acknowledge(job.to, job.callback_id, job.button_message_id)

    async def opt_out(self, job: SendJob) -> None:
        """The person blocked the bot or unsubscribed: the same as their STOP, without a reply they can't get."""
        log.info("recipient opted out at the provider; channel=%s", job.channel)
        if job.participant is not None:
            with contextlib.suppress(RedisError):
                await self.service.handle(job.participant, CommandReceived("stop"), address=address(job))

    async def hand_on(self, job: SendJob, reason: str, *, stored: bool) -> None:
        """The retries ran out: to the send queue, for a worker (or a web process) to try again later, when the
        replies are stored; otherwise, and when the queue is out of reach, an error line and a count."""
        if stored and self.queue is not None and job.participant is not None and job.key is not None:
            try:
                await self.queue.add(replace(job, callback_id=None))
                log.error("%s reply not sent after %d tries (%s); queued for later", job.channel, self.tries, reason)
                return
            except RedisError as exc:
                reason += f"; send queue unavailable ({type(exc).__name__})"
        log.error("%s reply not sent after %d tries (%s); given up", job.channel, self.tries, reason)
        if self.metrics is not None:
            self.metrics.errors.labels(where=f"{job.channel}_undelivered").inc()

    @property
    def tries(self) -> int:
        return 1 + len(self.retry_delays_s)


class QueueSender:
    """A reader of the send queue: takes new jobs, retries its own failed ones with backoff, and takes over the jobs
    of readers whose heartbeat ran out. Used by every worker, and by a web process while no worker is alive."""

    def __init__(
        self,
        name: str,
        queue: SendQueue,
        heartbeats: Heartbeats,
        sender: ReplySender,
        audit: AuditLog | None,
        clock: Clock,
    ) -> None:
        self.name, self.queue, self.heartbeats, self.sender = name, queue, heartbeats, sender
        self.audit, self.clock = audit, clock
        self.outcomes: dict[str, int] = {}

    async def beat(self) -> None:
        await self.heartbeats.beat(self.name, HEARTBEAT_TTL_S)

    async def take_over(self) -> int:
        """The jobs of readers whose heartbeat ran out (they died), sent now. How many."""
        alive = await self.heartbeats.alive()
        taken = await self.queue.take_over(self.name, alive, TAKEOVER_MIN_IDLE_MS, BATCH)
        if taken:
            log.warning("took over %d queued replies of a reader that stopped", len(taken))
        await self.send(taken)
        return len(taken)

    async def retry_own(self) -> int:
        """This reader's jobs whose send failed, each once its backoff has passed (given up after MAX_DELIVERIES),
        sent now. How many."""
        again = []
        for pending in await self.queue.own(self.name, BATCH):
            if pending.deliveries >= MAX_DELIVERIES:
                await self.give_up(pending.id)
            elif pending.idle_ms >= _backoff_ms(pending.deliveries):
                again.append(pending.id)
        entries = await self.queue.claim_again(self.name, again)
        await self.send(entries)
        return len(entries)

    async def read(self, block_ms: int | None) -> int:
        """New jobs (waiting up to `block_ms` for one), sent now. How many."""
        entries = await self.queue.read(self.name, BATCH, block_ms)
        await self.send(entries)
        return len(entries)

    async def send(self, entries: Sequence[Entry]) -> None:
        """One conversation's jobs in order, different conversations side by side."""
        by_person: dict[str, list[Entry]] = {}
        for entry in entries:
            by_person.setdefault(entry.job.participant or "", []).append(entry)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def person(jobs: list[Entry]) -> None:
            async with gate:
                for entry in jobs:
                    await self.send_one(entry)

        await asyncio.gather(*(person(jobs) for jobs in by_person.values()))

    async def send_one(self, entry: Entry) -> None:
        """Left pending (retried by this reader after a backoff) when the send failed for a reason that may pass."""
        try:
            outcome = await self.sender.attempt(entry.job)
        except RedisError:
            outcome = "retry"
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome != "retry":
            with contextlib.suppress(RedisError):
                await self.queue.done(entry.id)

    async def give_up(self, entry_id: str) -> None:
        log.error("queued reply not sent after %d tries; given up", MAX_DELIVERIES)
        job = await self.queue.job(entry_id)
        channel = job.channel if job is not None else "unknown"
        if self.sender.metrics is not None:
            self.sender.metrics.errors.labels(where=f"{channel}_undelivered").inc()
        if self.audit is not None:
            await self.audit.record("reply_undelivered", {"channel": channel}, self.clock.now())
        await self.queue.done(entry_id)

    async def stop(self) -> None:
        with contextlib.suppress(RedisError):
            await self.heartbeats.stop(self.name)


def _backoff_ms(deliveries: int) -> int:
    return int(min(QUEUE_RETRY_MAX_S, QUEUE_RETRY_BASE_S * 2 ** max(deliveries - 1, 0)) * 1000)
