"""`kneebot worker`: delivers due check-ins and pages staff about unacknowledged cases. Any number may run at once.

A worker keeps up to CONCURRENCY due check-ins in flight, claiming another under a lease (bot/storage/schedule.py)
as each one ends. Each runs through the same conversation service as a webhook (the event CheckInDue, deduplicated
by `checkin:<n>`, so a retried check-in changes the conversation once), sends what was not yet sent through the
shared rate limiter, and only then is removed. A check-in whose channel has no slot soon (SMS at 1/s beside Telegram
at 30/s) is postponed by the limiter's hint rather than holding its place, so a slow channel never paces a fast one.
A worker killed at any point loses nothing: its claims come due again when the lease runs out, and the retry resends
only the messages that were not recorded as sent. Between claims it pages staff for cases whose acknowledgement is
overdue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from bot.app.settings import Settings
from bot.app.wiring import Services, delivery_limits, make_channels, redis_client
from bot.channels.sms import SmsChannel
from bot.channels.telegram import TelegramChannel
from bot.clock import Clock, SystemClock
from bot.content.loader import Content
from bot.shell.delivery import Deliverer, DeliveryFailed, NoSlot, OptedOut
from bot.shell.metrics import Metrics
from bot.shell.replies import HEARTBEAT_EVERY_S, QueueSender, ReplySender
from bot.shell.scheduling import defer_for_quiet_hours, zone_for
from bot.shell.staff import card, deletion_notice, oncall_for_page, sms_page
from bot.storage.cases import Case
from bot.storage.checkins import Address, Claimed
from bot.storage.schedule import Claim
from bot.storage.sendqueue import WORKER, Heartbeats, SendQueue
from bot.triage.events import CheckInDue, CommandReceived

log = logging.getLogger("kneebot.worker")
CONCURRENCY = 16  # check-ins claimed and in flight at once in one worker: a bound on what a killed worker resends
PAGE_SLOT_WAIT_S = 30.0  # a page to staff waits its turn
SLOT_WAIT_S = 1.0  # a check-in waits this long for a rate-limit slot, then is postponed by the limiter's hint
RETRY_AFTER_REDIS_ERROR_S = 2.0
MIN_IDLE_S = 0.005  # the shortest wait between claims when nothing was due
QUEUE_BLOCK_MS = 1000
RESCUE_EVERY_S = 1.0  # how often a worker looks for jobs of dead readers, and for its own due a retry


@dataclass
class Stats:
    outcomes: dict[str, int] = field(default_factory=dict)  # check-ins by what happened to them
    pages: int = 0


class Worker:
    def __init__(
        self,
        services: Services,
        *,
        telegram: TelegramChannel | None,
        sms: SmsChannel | None,
        metrics: Metrics | None = None,
        name: str | None = None,
    ) -> None:
        self.s = services
        self.settings, self.clock = services.settings, services.clock
        self.telegram, self.sms = telegram, sms
        rates = delivery_limits(services.settings)
        self.deliverer = Deliverer(rates, services.store, services.limiter, telegram, sms, metrics)
        self.stats = Stats()
        # Only a worker that can send on Telegram reads the send queue (and makes webhooks queue their replies).
        kind = WORKER if telegram is not None else "worker-without-telegram:"
        self.name = name or f"{kind}{socket.gethostname()}-{os.getpid()}"
        queue, self.heartbeats = SendQueue(services.client), Heartbeats(services.client)
        replies = ReplySender(self.deliverer, services.service, queue, metrics)
        self.queue = QueueSender(self.name, queue, self.heartbeats, replies, services.audit, services.clock)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: check-ins and pages, and (with Telegram) the send queue, side by side; the heartbeat
        lasts until both are done, so no other reader takes over a job this one is still sending."""
        beating = asyncio.create_task(self.heartbeat_loop())
        loops = [self.schedule_loop(stop)]
        if self.telegram is not None:
            loops.append(self.drain_loop(stop))
        try:
            await asyncio.gather(*loops)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            await self.queue.stop()

    async def heartbeat_loop(self) -> None:
        """While this runs (and this worker reads the send queue), webhooks queue Telegram replies for the workers
        instead of sending them themselves; once it stops, the jobs it holds are taken over within seconds."""
        while True:
            with contextlib.suppress(RedisError):
                await self.queue.beat()
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    async def drain_loop(self, stop: asyncio.Event) -> None:
        """Send queued Telegram replies as they arrive (a blocking read); retry this worker's failed ones with
        backoff, and take over the jobs of readers whose heartbeat ran out (they died)."""
        rescued_at = -math.inf
        while not stop.is_set():
            try:
                if time.monotonic() - rescued_at >= RESCUE_EVERY_S:
                    await self.queue.beat()  # before the first read: a job this worker holds is never "orphaned"
                    rescued_at = time.monotonic()
                    await self.queue.take_over()
                    await self.queue.retry_own()
                await self.queue.read(QUEUE_BLOCK_MS)
            except RedisError as exc:
                self.queue.queue.forget_group()
                log.warning("send queue unavailable (%s); retrying", type(exc).__name__)
                await _wait(stop, RETRY_AFTER_REDIS_ERROR_S)

    async def schedule_loop(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: keep up to CONCURRENCY check-ins in flight, claiming more as each ends (or after a
        poll interval when none was due), and page staff about overdue cases once per poll interval."""
        running: set[asyncio.Task[None]] = set()
        stopped = asyncio.create_task(stop.wait())
        paged_at = -math.inf
        try:
            while not stop.is_set():
                try:
                    room = CONCURRENCY - len(running)
                    claimed = await self.s.checkins.claim(self.clock.now(), self.settings.lease, room) if room else []
                    running.update(asyncio.create_task(self.run_one(item)) for item in claimed)
                    if time.monotonic() - paged_at >= self.settings.worker_poll_s:
                        paged_at = time.monotonic()
                        await self.page_due()
                except RedisError as exc:
                    log.warning("redis unavailable (%s); retrying", type(exc).__name__)
                    await _wait(stop, RETRY_AFTER_REDIS_ERROR_S)
                    continue
                # Go on when one ends, or when the next check-in comes due (at most a poll interval): a check-in
                # that waited for a rate-limit slot is due again when the slot is, well inside a poll interval.
                timeout = self.settings.worker_poll_s
                if len(running) < CONCURRENCY:
                    with contextlib.suppress(RedisError):
                        timeout = await self.until_next_due(timeout)
                done, _ = await asyncio.wait(running | {stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                running -= done
        finally:
            stopped.cancel()
            if running:  # let what is in flight finish: it is claimed, and would otherwise wait out its lease
                await asyncio.gather(*running, return_exceptions=True)

    async def until_next_due(self, at_most_s: float) -> float:
        """Seconds until the schedule's next check-in comes due, within [MIN_IDLE_S, at_most_s]."""
        due = await self.s.checkins.next_due()
        if due is None:
            return at_most_s
        return min(at_most_s, max(MIN_IDLE_S, (due - self.clock.now()).total_seconds()))

    async def tick(self) -> int:
        """One pass, for tests with a controllable clock: claim up to CONCURRENCY due check-ins, deliver them all,
        then page. How many items it handled."""
        claimed = await self.s.checkins.claim(self.clock.now(), self.settings.lease, CONCURRENCY)
        await asyncio.gather(*(self.run_one(item) for item in claimed))
        return len(claimed) + await self.page_due()

    async def run_one(self, item: Claimed) -> None:
        """Dispatch and count. Never raises: a check-in that failed here comes due again after its lease."""
        try:
            outcome = await self.dispatch(item)
        except RedisError as exc:
            log.warning("check-in left for a retry: redis unavailable (%s)", type(exc).__name__)
            outcome = "redis_error"
        except Exception as exc:  # a bug: keep the worker up; the check-in retries after its lease
            log.error("check-in failed with %s; retried after its lease", type(exc).__name__)
            outcome = "error"
        self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1

    async def page_due(self) -> int:
        """Page staff about each case whose acknowledgement is overdue; how many."""
        pages = await self.s.cases.claim_pages(self.clock.now(), self.settings.lease, CONCURRENCY)
        for claim in pages:
            await self.page(claim)
        return len(pages)

    async def dispatch(self, item: Claimed) -> str:
        """Deliver one claimed check-in. Returns what happened: sent, skipped, deferred (quiet hours), waited (rate
        limit), opted_out, retry (the provider failed), failed, gone (cancelled)."""
        checkin = item.checkin
        if checkin is None:
            await self.s.checkins.finish(item)
            return "gone"
        now = self.clock.now()
        if not checkin.exempt:
            later = defer_for_quiet_hours(now, _zone(checkin.zone, self.settings), self.settings.quiet)
            if later > now:  # came due (or was retried) into the night: wait for the morning
                await self.s.checkins.postpone(item, later, spread=True)
                return "deferred"
        key = f"checkin:{checkin.seq}"
        try:
            # The slot first: a check-in that must wait makes way before the engine has done any work for it.
            slot = await self.deliverer.slot(checkin.address.channel, checkin.participant, "checkin", SLOT_WAIT_S)
            try:
                handled = await self.s.service.handle(
                    checkin.participant,
                    CheckInDue(checkin.seq),
                    message_id=key,
                    locale=checkin.locale,
                    country=checkin.country,
                    address=checkin.address,
                )
            except BaseException:
                await self.deliverer.unused(slot)
                raise
            if not handled.replies:
                await self.deliverer.unused(slot)
                await self.s.checkins.finish(item)
                return "skipped"
            await self.deliverer.deliver(
                checkin.participant,
                checkin.address,
                key,
                handled.replies,
                handled.locale,
                max_wait_s=SLOT_WAIT_S,
                first_slot=slot,
            )
        except OptedOut:
            await self.opt_out(checkin.participant, checkin.address)
            await self.s.checkins.finish(item)
            return "opted_out"
        except NoSlot as exc:  # its channel is busy: make way for check-ins on the other one
            await self.s.checkins.postpone(item, self.clock.now() + timedelta(seconds=exc.retry_after_s))
            return "waited"
        except DeliveryFailed as exc:
            if exc.retry_after_s <= 0:
                log.warning("check-in not deliverable: %s", exc)
                await self.s.audit.record("checkin_failed", {"seq": str(checkin.seq)}, now)
                await self.s.checkins.finish(item)
                return "failed"
            await self.s.checkins.postpone(item, self.clock.now() + timedelta(seconds=exc.retry_after_s))
            return "retry"
        await self.s.checkins.finish(item)
        return "sent"

    async def opt_out(self, participant: str, address: Address) -> None:
        """The person blocked the bot or unsubscribed: the same as their STOP, without a reply they can't get."""
        log.info("recipient opted out at the provider; channel=%s", address.channel)
        await self.s.service.handle(participant, CommandReceived("stop"), address=address)
        await self.s.audit.record("opted_out", {"channel": address.channel}, self.clock.now())

    async def page(self, claim: Claim) -> None:
        """Page staff about an unacknowledged case, then schedule the re-page one deadline later."""
        case = await self.s.cases.get(claim.id)
        if case is not None and case.deleted_at is not None and case.status != "resolved":
            await self.deleted(case)
            await self.s.cases.drop_page(claim)
            return
        if case is None or case.status != "open":
            await self.s.cases.drop_page(claim)
            return
        locale, catalog = self.settings.default_locale, self.s.content.catalog
        targets = []
        if self.telegram is not None and self.settings.staff_telegram_chat_id is not None:
            staff = Address(channel="telegram", to=str(self.settings.staff_telegram_chat_id))
            with contextlib.suppress(DeliveryFailed, OptedOut):
                summary = card(case, catalog, locale)
                await self.deliverer.send_limited(staff, summary, None, "page", max_wait_s=PAGE_SLOT_WAIT_S)
                targets.append("staff_chat")
        number = oncall_for_page(case.pages, self.settings.oncall)
        if number is not None and self.sms is not None:
            with contextlib.suppress(DeliveryFailed, OptedOut):
                oncall = Address(channel="sms", to=number)
                page = sms_page(case, catalog, locale)
                await self.deliverer.send_limited(oncall, page, None, "page", max_wait_s=PAGE_SLOT_WAIT_S)
                targets.append(f"oncall_{self.settings.oncall.index(number) + 1}")
        pages = await self.s.cases.paged(claim, self.clock.now() + self.settings.ack_deadline)
        if pages > 0:
            self.stats.pages += 1
            fields = {"case": case.id, "page": str(pages), "target": ",".join(targets) or "none"}
            await self.s.audit.record("page_sent", fields, self.clock.now())

    async def deleted(self, case: Case) -> None:
        """The person deleted their data: one notice in place of the next page, to the staff chat and to the on-call
        number paged last, so nobody waits to call back a number that is gone."""
        locale, catalog = self.settings.default_locale, self.s.content.catalog
        if self.telegram is not None and self.settings.staff_telegram_chat_id is not None:
            staff = Address(channel="telegram", to=str(self.settings.staff_telegram_chat_id))
            with contextlib.suppress(DeliveryFailed, OptedOut):
                await self.deliverer.send_limited(
                    staff, card(case, catalog, locale), None, "page", max_wait_s=PAGE_SLOT_WAIT_S
                )
        number = oncall_for_page(case.pages - 1, self.settings.oncall) if case.pages else None
        if number is not None and self.sms is not None:
            with contextlib.suppress(DeliveryFailed, OptedOut):
                oncall = Address(channel="sms", to=number)
                notice = deletion_notice(case, catalog, locale)
                await self.deliverer.send_limited(oncall, notice, None, "page", max_wait_s=PAGE_SLOT_WAIT_S)
        await self.s.audit.record("page_sent", {"case": case.id, "status": "deleted"}, self.clock.now())


def _zone(name: str, settings: Settings) -> ZoneInfo:
    try:
        return zone_for(None, None, name)
    except ValueError:
        return settings.zone


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_worker(settings: Settings, content: Content, stop: asyncio.Event, clock: Clock | None = None) -> Stats:
    """The worker process: Redis and the channels opened once, then `Worker.run` until stopped."""
    client = redis_client(settings.redis_url or "", timeout_s=5.0)
    services = Services.build(settings, content, client, clock or SystemClock())
    # No PTB rate limiter: the shared limiter in Redis holds the limits across every process.
    telegram, sms = make_channels(settings, content, per_process_limiter=False)
    if telegram is not None:
        await telegram.start()
    worker = Worker(services, telegram=telegram, sms=sms)
    try:
        await worker.run(stop)
    finally:
        if telegram is not None:
            await telegram.stop()
        if sms is not None:
            await sms.aclose()
        await services.aclose()
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(worker.stats.outcomes.items()))
        replies = " ".join(f"{k}={v}" for k, v in sorted(worker.queue.outcomes.items()))
        log.info(
            "worker stopped: check-ins %s; pages %d; queued replies %s",
            outcomes or "none",
            worker.stats.pages,
            replies or "none",
        )
    return worker.stats
