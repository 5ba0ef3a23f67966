"""Sending outside a webhook reply: one message at a time, within the providers' limits, resumable after a crash.

Every message first takes a slot from the rate limiter shared through Redis (Telegram: about 30 messages/s per bot and
1/s per chat; SMS: a configured rate per sending number), so the limits hold across every web and worker process
together; the slot is released when the send is over, so it counts from the provider's side of the send. After each
message the count sent is recorded against the inbound (or check-in) id, so a retry after a crash sends only what was
not yet sent.

Replies sent `at_once` (an emergency or urgent message, or what a process without its store can say) take no slot
and need no Redis: they go straight to the provider, the record read and written when Redis answers. They are few
(one message an emergency), so the limits hold but for them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError

from bot.channels.base import Channel, Channels, Message, Rate, SendFailed
from bot.channels.base import OptedOut as OptedOut  # the shell's name for it too: callers catch it from here
from bot.shell.metrics import Metrics
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore
from bot.storage.ratelimit import Grant, Limit, RedisRateLimiter
from bot.triage.effects import SendReply

log = logging.getLogger("kneebot.delivery")
SLOT_TIMEOUT_S = 30.0


class DeliveryFailed(Exception):
    """Not sent this time; worth a retry after `retry_after_s` (0: not worth one). `asked_s`: the wait the provider
    asked for (flood control), when it did. `done`: how many of the replies' messages were sent before it failed
    (set by `Deliverer.deliver`)."""

    def __init__(self, reason: str, retry_after_s: float = 30.0, *, asked_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s
        self.asked_s = asked_s
        self.done = 0


class NoSlot(DeliveryFailed):
    """The rate limits had no slot within the time allowed; `retry_after_s` is the limiter's hint."""


@dataclass
class Deliverer:
    """Sends on any channel of the registry, each message within its provider's limits."""

    channels: Channels
    store: ConversationStore
    limiter: RedisRateLimiter | None
    metrics: Metrics | None = None

    def limits(self, channel: str, participant: str | None) -> list[Limit]:
        """The channel's limit for everything sent on it and, for a person, theirs: named by the participant alone,
        so its key is under their hash tag and DELETE removes it."""
        found = self.channel(channel).limits
        limits = [_limit(channel, found.sender)]
        if participant is not None and found.person is not None:
            limits.append(_limit(participant, found.person))
        return limits

    async def send_text(
        self,
        address: Address,
        text: str,
        *,
        participant: str | None = None,
        max_wait_s: float = SLOT_TIMEOUT_S,
    ) -> int:
        """Send this text to this person on their channel, within the limits; the provider's message id where it
        has a number (0 otherwise). Raises OptedOut, NoSlot or DeliveryFailed (a channel whose free messages end
        some time after the person last wrote refuses one past it)."""
        return await self.send_limited(address, Message(text), participant, "text", max_wait_s=max_wait_s)

    async def send_limited(
        self,
        address: Address,
        message: Message,
        participant: str | None,
        token: str,
        *,
        max_wait_s: float,
        grant: Grant | None = None,
    ) -> int:
        """A message that is not the engine's (a staff card or page, a staff member's words), sent once the limits
        have a slot (`grant`, one taken already, or one waited for up to `max_wait_s`; NoSlot with the wait left when
        there is none in time), releasing the slot when the send is over, whatever happened."""
        unit = self.channel(address.channel).render_message(message)
        return await self._send_in_slot(address, unit, participant, token, max_wait_s, grant)

    async def _send_in_slot(
        self,
        address: Address,
        unit: object,
        participant: str | None,
        token: str,
        max_wait_s: float,
        grant: Grant | None,
    ) -> int:
        if grant is None:
            grant = await self.slot(address.channel, participant, token, max_wait_s)
        if grant is None or self.limiter is None:
            return await self.send(address, unit)
        async with self.limiter.holding(grant):
            return await self.send(address, unit)

    async def slot(self, channel: str, participant: str | None, token: str, max_wait_s: float) -> Grant | None:
        """A slot in the channel's limits (and the person's), waiting up to `max_wait_s`; None without a limiter.
        Raises NoSlot with the limiter's hint. A slot taken must be used by a send or given back with `unused`."""
        if self.limiter is None:
            return None
        got = await self.limiter.acquire(self.limits(channel, participant), token, timeout_s=max_wait_s)
        if not isinstance(got, Grant):
            raise NoSlot("rate limit: no slot in time", retry_after_s=got)
        return got

    async def unused(self, grant: Grant | None) -> None:
        """Give back a slot that no send used. On a Redis error it stays held for the limiter's hold time: slower,
        never over the limit."""
        if grant is not None and self.limiter is not None:
            with contextlib.suppress(RedisError):
                await self.limiter.cancel(grant)

    async def deliver(
        self,
        participant: str | None,
        address: Address,
        message_key: str | None,
        replies: Sequence[SendReply],
        locale: str,
        *,
        max_wait_s: float = SLOT_TIMEOUT_S,
        first_slot: Grant | None = None,
        at_once: bool = False,
        already: int = 0,
        since_wrote: timedelta | None = None,
    ) -> int:
        """Send what was not sent yet of these replies; how many messages this call sent. Each message waits up to
        `max_wait_s` for a slot (NoSlot, with the wait left, when there is none in time), but the first, with
        `first_slot`, uses that one (given back if nothing is left to send).

        `participant` and `message_key` name the record of what was sent (None: nothing is recorded, as for a group
        chat, or once the person's data is deleted). `at_once`: no slot, and a store that does not answer is no
        reason to wait (at worst a message the record would have skipped goes again). `already`: messages the caller
        knows were sent. `since_wrote`: how long since the person last wrote, for the channel's rendering. A failure
        raises DeliveryFailed (or OptedOut) with `done`, the messages sent by then."""
        spare = first_slot
        recorded = participant is not None and message_key is not None
        done = already
        try:
            if recorded:
                assert participant is not None and message_key is not None
                try:
                    done = max(done, await self.store.delivered(participant, message_key))
                except RedisError:
                    if not at_once:
                        raise
            units = self.channel(address.channel).render(replies, locale, since_wrote=since_wrote)
            sent = 0
            for index, unit in enumerate(units):
                if index < done:
                    continue
                grant, spare = spare, None
                try:
                    if at_once:
                        await self.unused(grant)
                        await self.send(address, unit)
                    else:
                        await self._send_in_slot(address, unit, participant, "reply", max_wait_s, grant)
                except DeliveryFailed as exc:
                    exc.done = done
                    raise
                done, sent = index + 1, sent + 1
                if recorded:
                    assert participant is not None and message_key is not None
                    await self._record(participant, message_key, done)
            return sent
        finally:
            await self.unused(spare)

    async def _record(self, participant: str, message_key: str, done: int) -> None:
        """The message went: a store that fails to record it now must not make the caller send it again."""
        try:
            await self.store.mark_delivered(participant, message_key, done)
        except RedisError as exc:
            log.warning("a sent message was not recorded (%s); a retry may send it again", type(exc).__name__)

    async def send(self, address: Address, unit: object) -> int:
        """One unit the channel rendered, outside the limiter (`send_limited` takes a slot first); the provider's
        message id where it has a number (0 otherwise). Raises OptedOut or DeliveryFailed."""
        channel = self.channel(address.channel)
        try:
            message_id = await channel.send(address.to, unit)
        except SendFailed as exc:
            if self.metrics is not None:
                self.metrics.errors.labels(where=f"{channel.name}_send").inc()
            raise DeliveryFailed(
                f"{channel.name} send failed ({exc})", exc.retry_after_s, asked_s=exc.asked_s
            ) from None
        if self.metrics is not None:
            self.metrics.messages_out.labels(channel=channel.name).inc()
        return message_id

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise DeliveryFailed(f"{name} is not configured", 0) from None


def _limit(name: str, rate: Rate) -> Limit:
    return Limit(name, rate.count, rate.per_s)
