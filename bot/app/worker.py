"""`kneebot worker`: four jobs side by side (any number of workers may run at once): due check-ins
(bot/shell/checkin_job.py), pages to staff about cases nobody acknowledged (bot/shell/paging.py), the send queue
(bot/shell/replies.py's QueueSender: replies a web process queued), and the heartbeat that tells web processes a
worker reads that queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time

from redis.exceptions import RedisError

from bot.app.settings import Settings
from bot.app.wiring import Services, make_channels, redis_client, staff_targets, staff_words
from bot.channels.base import Channels
from bot.clock import Clock, SystemClock
from bot.content.loader import Content
from bot.shell.checkin_job import CheckInJob
from bot.shell.delivery import Deliverer
from bot.shell.metrics import Metrics
from bot.shell.paging import Pager
from bot.shell.replies import HEARTBEAT_EVERY_S, QueueSender, ReplySender
from bot.storage.sendqueue import WORKER, Heartbeats, SendQueue

log = logging.getLogger("kneebot.worker")
RETRY_AFTER_REDIS_ERROR_S = 2.0
QUEUE_BLOCK_MS = 1000
RESCUE_EVERY_S = 1.0  # how often a worker looks for jobs of dead readers, and for its own due a retry


class Worker:
    def __init__(self, services: Services, *, metrics: Metrics | None = None, name: str | None = None) -> None:
        settings, clock = services.settings, services.clock
        self.settings, self.clock = settings, clock
        self.deliverer = Deliverer(services.channels, services.store, services.limiter, metrics)
        self.checkins = CheckInJob(
            services.checkins,
            services.service,
            self.deliverer,
            services.audit,
            clock,
            settings.lease,
            settings.quiet,
            settings.zone,
        )
        self.pager = Pager(
            services.cases,
            services.audit,
            self.deliverer,
            staff_targets(settings),
            staff_words(settings, services.content),
            clock,
            settings.lease,
            settings.ack_deadline,
        )
        # Only a worker with a channel whose replies are sent after the webhook reads the send queue (and makes
        # webhooks queue their replies).
        self.reads_queue = any(not channel.replies_in_response for channel in services.channels.values())
        kind = WORKER if self.reads_queue else "worker-without-queue:"
        self.name = name or f"{kind}{socket.gethostname()}-{os.getpid()}"
        queue = SendQueue(services.client)
        replies = ReplySender(self.deliverer, services.service, queue, metrics)
        self.queue = QueueSender(self.name, queue, Heartbeats(services.client), replies, services.audit, clock)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: check-ins and pages, and the send queue, side by side; the heartbeat lasts until all
        are done, so no other reader takes over a job this one is still sending."""
        beating = asyncio.create_task(self.heartbeat())
        jobs = [self.schedule(stop)]
        if self.reads_queue:
            jobs.append(self.drain(stop))
        try:
            await asyncio.gather(*jobs)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            await self.queue.stop()

    async def heartbeat(self) -> None:
        """While this beats (and this worker reads the send queue), webhooks queue their replies for the workers
        instead of sending them themselves; once it stops, the jobs it holds are taken over within seconds."""
        while True:
            with contextlib.suppress(RedisError):
                await self.queue.beat()
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    async def drain(self, stop: asyncio.Event) -> None:
        """Send queued replies as they arrive (a blocking read); retry this worker's failed ones with backoff, and
        take over the jobs of readers whose heartbeat ran out (they died)."""
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

    async def schedule(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: keep check-ins in flight, claiming more as each ends (or when the next comes due,
        within a poll interval), and page staff about overdue cases once per poll interval."""
        poll_s = self.settings.worker_poll_s
        stopped = asyncio.create_task(stop.wait())
        paged_at = -math.inf
        try:
            while not stop.is_set():
                try:
                    await self.checkins.claim()
                    if time.monotonic() - paged_at >= poll_s:
                        paged_at = time.monotonic()
                        await self.pager.page_due()
                except RedisError as exc:
                    log.warning("redis unavailable (%s); retrying", type(exc).__name__)
                    await _wait(stop, RETRY_AFTER_REDIS_ERROR_S)
                    continue
                timeout = await self.checkins.until_next_due(poll_s)
                await asyncio.wait(
                    {*self.checkins.running, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            stopped.cancel()
            await self.checkins.finish()

    async def tick(self) -> int:
        """One pass, for tests with a controllable clock: claim the due check-ins, deliver them all, then page. How
        many items it handled."""
        claimed = await self.checkins.claim()
        await self.checkins.finish()
        return claimed + await self.pager.page_due()

    def summary(self) -> str:
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(self.checkins.outcomes.items()))
        replies = " ".join(f"{k}={v}" for k, v in sorted(self.queue.outcomes.items()))
        return f"check-ins {outcomes or 'none'}; pages {self.pager.pages}; queued replies {replies or 'none'}"


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_worker(settings: Settings, content: Content, stop: asyncio.Event, clock: Clock | None = None) -> Worker:
    """The worker process: Redis and the channels opened once, then `Worker.run` until stopped."""
    client = redis_client(settings.redis_url or "", timeout_s=5.0)
    # No PTB rate limiter: the shared limiter in Redis holds the limits across every process.
    channels: Channels = make_channels(settings, content, per_process_limiter=False)
    await channels.start()
    services = Services.build(settings, content, client, clock or SystemClock(), channels)
    worker = Worker(services)
    try:
        await worker.run(stop)
    finally:
        await channels.stop()
        await services.aclose()
        log.info("worker stopped: %s", worker.summary())
    return worker
