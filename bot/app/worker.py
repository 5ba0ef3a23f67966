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
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError, ResponseError

from bot.app.settings import Settings
from bot.app.wiring import Services, delivery_limits, make_channels, redis_client
from bot.channels.sms import SmsChannel
from bot.channels.telegram import TelegramChannel
from bot.clock import Clock, SystemClock
from bot.content.loader import Content
from bot.shell.conversation import decode_replies
from bot.shell.delivery import Deliverer, DeliveryFailed, NoSlot, OptedOut
from bot.shell.metrics import Metrics
from bot.shell.scheduling import defer_for_quiet_hours, zone_for
from bot.shell.staff import card, oncall_for_page, sms_page
from bot.storage import keys
from bot.storage.checkins import Address, Claimed
from bot.storage.schedule import Claim
from bot.triage.events import CheckInDue, CommandReceived

log = logging.getLogger("kneebot.worker")
CONCURRENCY = 16  # check-ins claimed and in flight at once in one worker: a bound on what a killed worker resends
PAGE_SLOT_WAIT_S = 30.0  # a page to staff waits its turn
SLOT_WAIT_S = 1.0  # a check-in waits this long for a rate-limit slot, then is postponed by the limiter's hint
RETRY_AFTER_REDIS_ERROR_S = 2.0
MIN_IDLE_S = 0.005  # the shortest wait between claims when nothing was due
GROUP = "senders"  # the send queue's consumer group: every worker reads from it
QUEUE_BATCH = 64
QUEUE_BLOCK_MS = 1000
QUEUE_CONCURRENCY = 32  # conversations sent to at once (their sends wait on the shared limiter)
RECLAIM_EVERY_S = 5.0
HEARTBEAT_EVERY_S = 1.0
HEARTBEAT_TTL_S = 3.0


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
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self._group_ready = False

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: check-ins and pages, and (with Telegram) the send queue, side by side."""
        loops = [self.schedule_loop(stop)]
        if self.telegram is not None:
            loops += [self.drain_loop(stop), self.heartbeat_loop(stop)]
        await asyncio.gather(*loops)

    async def heartbeat_loop(self, stop: asyncio.Event) -> None:
        """While this runs, webhooks queue Telegram replies for workers instead of sending them themselves."""
        while not stop.is_set():
            with contextlib.suppress(RedisError):
                await self.s.client.set(keys.workers_alive(), self.name, px=int(HEARTBEAT_TTL_S * 1000))
            await _wait(stop, HEARTBEAT_EVERY_S)
        with contextlib.suppress(RedisError):
            if await self.s.client.get(keys.workers_alive()) == self.name.encode():
                await self.s.client.delete(keys.workers_alive())

    async def drain_loop(self, stop: asyncio.Event) -> None:
        """Send queued Telegram replies as they arrive (a blocking read), and take over jobs another worker claimed
        and did not finish within the lease (it died, or the send kept failing)."""
        queue, client = keys.send_queue(), self.s.client
        lease_ms = int(self.settings.lease.total_seconds() * 1000)
        reclaimed_at = 0.0
        while not stop.is_set():
            try:
                await self.ensure_group()
                if time.monotonic() - reclaimed_at >= RECLAIM_EVERY_S:
                    reclaimed_at = time.monotonic()
                    claimed: Any = await client.xautoclaim(queue, GROUP, self.name, lease_ms, "0-0", QUEUE_BATCH)
                    await self.send_jobs(claimed[1])
                read: Any = await client.xreadgroup(GROUP, self.name, {queue: ">"}, QUEUE_BATCH, QUEUE_BLOCK_MS)
                for _stream, entries in read or []:
                    await self.send_jobs(entries)
            except RedisError as exc:
                self._group_ready = False
                log.warning("send queue unavailable (%s); retrying", type(exc).__name__)
                await _wait(stop, RETRY_AFTER_REDIS_ERROR_S)

    async def ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.s.client.xgroup_create(keys.send_queue(), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def send_jobs(self, entries: list[Any]) -> None:
        """One conversation's jobs in order, different conversations side by side."""
        by_person: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for entry_id, raw in entries:
            if raw is None:  # deleted while pending
                continue
            fields = {_text(k): _text(v) for k, v in raw.items()}
            by_person.setdefault(fields.get("p", ""), []).append((_text(entry_id), fields))
        gate = asyncio.Semaphore(QUEUE_CONCURRENCY)

        async def person(jobs: list[tuple[str, dict[str, str]]]) -> None:
            async with gate:
                for entry_id, fields in jobs:
                    await self.send_job(entry_id, fields)

        await asyncio.gather(*(person(jobs) for jobs in by_person.values()))

    async def send_job(self, entry_id: str, job: dict[str, str]) -> None:
        """Answer the button press, then send the replies committed for that message that were not sent yet.
        Left pending (for a retry after the lease) when the send failed for a reason that may pass."""
        participant, key, chat = job.get("p", ""), job.get("k", ""), job.get("to", "")
        address = Address(channel="telegram", to=chat)
        try:
            if self.telegram is not None and ("cb" in job or "bm" in job):
                button = int(job["bm"]) if job.get("bm", "").isdigit() else None
                await self.telegram.acknowledge(job.get("cb"), chat, button)
            loaded = await self.s.store.load(participant, key)
            if loaded.replay:
                locale = loaded.session.locale if loaded.session else self.settings.default_locale
                replies = decode_replies(loaded.replay)
                await self.deliverer.deliver(participant, address, key, replies, locale)
        except OptedOut:
            await self.opt_out(participant, address)
        except DeliveryFailed as exc:
            if exc.retry_after_s > 0:
                return
            log.warning("queued reply not deliverable: %s", exc)
        except RedisError:
            return
        async with self.s.client.pipeline(transaction=False) as done:  # one round trip for both
            done.xack(keys.send_queue(), GROUP, entry_id)
            done.xdel(keys.send_queue(), entry_id)
            await done.execute()

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
        log.info("worker stopped: check-ins %s; pages %d", outcomes or "none", worker.stats.pages)
    return worker.stats


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
