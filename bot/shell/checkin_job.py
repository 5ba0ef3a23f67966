"""Delivering due check-ins: claimed under a lease, run through the conversation service as a webhook message is
(the event CheckInDue, deduplicated by `checkin:<n>`, so a retried check-in changes the conversation once), sent
through the shared rate limiter, and only then removed.

A check-in whose channel has no slot soon (SMS at 1/s beside Telegram at 30/s) is postponed by the limiter's hint
rather than holding its place, so a slow channel never paces a fast one. A worker killed at any point loses nothing:
its claims come due again when the lease runs out, and the retry resends only the messages not recorded as sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from bot.clock import Clock
from bot.shell.conversation import ConversationService
from bot.shell.delivery import Deliverer, DeliveryFailed, NoSlot, OptedOut
from bot.shell.scheduling import QuietHours, defer_for_quiet_hours, zone_for
from bot.storage.audit import AuditLog
from bot.storage.checkins import Address, CheckInStore, Claimed
from bot.triage.events import CheckInDue, CommandReceived

log = logging.getLogger("kneebot.checkins")
CONCURRENCY = 16  # check-ins claimed and in flight at once in one worker: a bound on what a killed worker resends
SLOT_WAIT_S = 1.0  # a check-in waits this long for a rate-limit slot, then is postponed by the limiter's hint
MIN_IDLE_S = 0.005  # the shortest wait between claims when nothing was due


@dataclass
class CheckInJob:
    checkins: CheckInStore
    service: ConversationService
    deliverer: Deliverer
    audit: AuditLog
    clock: Clock
    lease: timedelta
    quiet: QuietHours | None
    zone: ZoneInfo  # the deployment's default time zone
    outcomes: dict[str, int] = field(default_factory=dict)  # check-ins by what happened to them
    running: set[asyncio.Task[None]] = field(default_factory=set)

    async def claim(self) -> int:
        """Claim as many due check-ins as there is room for in flight, and start them; how many."""
        room = CONCURRENCY - len(self.running)
        claimed = await self.checkins.claim(self.clock.now(), self.lease, room) if room > 0 else []
        for item in claimed:
            task = asyncio.create_task(self.run_one(item))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return len(claimed)

    async def until_next_due(self, at_most_s: float) -> float:
        """Seconds until the next check-in comes due, within [MIN_IDLE_S, at_most_s] (at most when full)."""
        if len(self.running) >= CONCURRENCY:
            return at_most_s
        with contextlib.suppress(RedisError):
            due = await self.checkins.next_due()
            if due is not None:
                return min(at_most_s, max(MIN_IDLE_S, (due - self.clock.now()).total_seconds()))
        return at_most_s

    async def finish(self) -> None:
        """Let what is in flight finish: it is claimed, and would otherwise wait out its lease."""
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)

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
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    async def dispatch(self, item: Claimed) -> str:
        """Deliver one claimed check-in. Returns what happened: sent, skipped, deferred (quiet hours), waited (rate
        limit), opted_out, retry (the provider failed), failed, gone (cancelled)."""
        checkin = item.checkin
        if checkin is None:
            await self.checkins.finish(item)
            return "gone"
        now = self.clock.now()
        if not checkin.exempt:
            later = defer_for_quiet_hours(now, self._zone(checkin.zone), self.quiet)
            if later > now:  # came due (or was retried) into the night: wait for the morning
                await self.checkins.postpone(item, later, spread=True)
                return "deferred"
        try:
            await self.deliver(item)
        except OptedOut:
            await self.opt_out(checkin.participant, checkin.address)
            await self.checkins.finish(item)
            return "opted_out"
        except _Skipped:
            await self.checkins.finish(item)
            return "skipped"
        except NoSlot as exc:  # its channel is busy: make way for check-ins on the other one
            await self.checkins.postpone(item, self.clock.now() + timedelta(seconds=exc.retry_after_s))
            return "waited"
        except DeliveryFailed as exc:
            if exc.retry_after_s <= 0:
                log.warning("check-in not deliverable: %s", exc)
                await self.audit.record("checkin_failed", {"seq": str(checkin.seq)}, now)
                await self.checkins.finish(item)
                return "failed"
            await self.checkins.postpone(item, self.clock.now() + timedelta(seconds=exc.retry_after_s))
            return "retry"
        await self.checkins.finish(item)
        return "sent"

    async def deliver(self, item: Claimed) -> None:
        """The engine's turn for the check-in, then its messages. The slot first: a check-in that must wait makes
        way before the engine has done any work for it."""
        checkin = item.checkin
        assert checkin is not None
        key = f"checkin:{checkin.seq}"
        slot = await self.deliverer.slot(checkin.address.channel, checkin.participant, "checkin", SLOT_WAIT_S)
        try:
            handled = await self.service.handle(
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
            raise _Skipped
        since = self.clock.now() - handled.wrote_at if handled.wrote_at is not None else None
        await self.deliverer.deliver(
            checkin.participant,
            checkin.address,
            key,
            handled.replies,
            handled.locale,
            max_wait_s=SLOT_WAIT_S,
            first_slot=slot,
            since_wrote=since,
        )

    async def opt_out(self, participant: str, address: Address) -> None:
        """The person blocked the bot or unsubscribed: the same as their STOP, without a reply they can't get."""
        log.info("recipient opted out at the provider; channel=%s", address.channel)
        await self.service.handle(participant, CommandReceived("stop"), address=address)
        await self.audit.record("opted_out", {"channel": address.channel}, self.clock.now())

    def _zone(self, name: str) -> ZoneInfo:
        try:
            return zone_for(None, None, name)
        except ValueError:
            return self.zone


class _Skipped(Exception):  # noqa: N818 - an outcome, not a failure
    """The engine had nothing to ask (the person stopped, or is answering new questions)."""
