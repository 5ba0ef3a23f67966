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

from redis.exceptions import RedisError

from bot.channels.render import TelegramMessage
from bot.channels.sms import SmsChannel, SmsSendError, SmsUnsubscribed
from bot.channels.telegram import TelegramBlocked, TelegramChannel, TelegramSendError
from bot.shell.metrics import Metrics
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore
from bot.storage.ratelimit import Grant, Limit, RedisRateLimiter
from bot.triage.effects import SendReply

log = logging.getLogger("kneebot.delivery")
SLOT_TIMEOUT_S = 30.0
CHAT_BURST = 3


class OptedOut(Exception):
    """The person blocked the bot (Telegram 403) or unsubscribed (Twilio 21610): send them nothing more."""


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


@dataclass(frozen=True)
class DeliveryLimits:
    """The providers' sending rates, from the settings."""

    telegram_rate_per_s: float
    telegram_chat_rate_per_s: float
    sms_rate_per_s: float


@dataclass
class Deliverer:
    rates: DeliveryLimits
    store: ConversationStore
    limiter: RedisRateLimiter | None
    telegram: TelegramChannel | None
    sms: SmsChannel | None
    metrics: Metrics | None = None

    def limits(self, channel: str, participant: str | None) -> list[Limit]:
        s = self.rates
        if channel == "telegram":
            limits = [Limit("telegram", _count(s.telegram_rate_per_s), _window(s.telegram_rate_per_s))]
            if participant is not None:
                # Telegram: "avoid more than one message per second in a chat; short bursts are allowed". A reply
                # is often two or three messages in a row, so the chat's limit is its rate averaged over a burst.
                # Named by the participant alone, so its key is under their hash tag and DELETE removes it.
                burst = CHAT_BURST * _count(s.telegram_chat_rate_per_s)
                limits.append(Limit(participant, burst, CHAT_BURST * _window(s.telegram_chat_rate_per_s)))
            return limits
        return [Limit("sms-from", _count(s.sms_rate_per_s), _window(s.sms_rate_per_s))]

    async def send_limited(
        self,
        address: Address,
        unit: TelegramMessage | str,
        participant: str | None,
        token: str,
        *,
        max_wait_s: float,
        grant: Grant | None = None,
    ) -> int:
        """`send` once the limits have a slot (`grant`, one taken already, or one waited for up to `max_wait_s`;
        NoSlot with the wait left when there is none in time), releasing the slot when the send is over, whatever
        happened."""
        if grant is None:
            grant = await self.slot(address.channel, participant, token, max_wait_s)
        if grant is None or self.limiter is None:
            return await self.send(address, unit)
        async with self.limiter.holding(grant):
            return await self.send(address, unit)

    async def slot(self, channel: str, participant: str | None, token: str, max_wait_s: float) -> Grant | None:
        """A slot in the channel's limits (and the chat's), waiting up to `max_wait_s`; None without a limiter.
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
    ) -> int:
        """Send what was not sent yet of these replies; how many messages this call sent. Each message waits up to
        `max_wait_s` for a slot (NoSlot, with the wait left, when there is none in time), but the first, with
        `first_slot`, uses that one (given back if nothing is left to send).

        `participant` and `message_key` name the record of what was sent (None: nothing is recorded, as for a group
        chat, or once the person's data is deleted). `at_once`: no slot, and a store that does not answer is no
        reason to wait (at worst a message the record would have skipped goes again). `already`: messages the caller
        knows were sent. A failure raises DeliveryFailed (or OptedOut) with `done`, the messages sent by then."""
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
            if address.channel == "telegram":
                units: Sequence[TelegramMessage | str] = self._telegram().render(replies, locale)
            else:
                units = self._sms().bodies(replies, locale)
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
                        await self.send_limited(address, unit, participant, "reply", max_wait_s=max_wait_s, grant=grant)
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

    async def send(self, address: Address, unit: TelegramMessage | str) -> int:
        """One message, outside the limiter (`send_limited` takes a slot first); its Telegram message id (0 for
        SMS). Raises OptedOut or DeliveryFailed."""
        try:
            if address.channel == "telegram":
                assert isinstance(unit, TelegramMessage)
                message_id = await self._telegram().send(address.to, unit)
            else:
                assert isinstance(unit, str)
                await self._sms().send_body(address.to, unit)
                message_id = 0
        except (TelegramBlocked, SmsUnsubscribed):
            raise OptedOut(address.channel) from None
        except TelegramSendError as exc:
            self._error(address.channel)
            raise DeliveryFailed("telegram send failed", exc.retry_after or 30.0, asked_s=exc.retry_after) from None
        except SmsSendError as exc:
            self._error(address.channel)
            raise DeliveryFailed(f"sms send failed ({exc.code or exc.status})", 30.0 if exc.retryable else 0) from None
        if self.metrics is not None:
            self.metrics.messages_out.labels(channel=address.channel).inc()
        return message_id

    def _error(self, channel: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(where=f"{channel}_send").inc()

    def _telegram(self) -> TelegramChannel:
        if self.telegram is None:
            raise DeliveryFailed("telegram is not configured", 0)
        return self.telegram

    def _sms(self) -> SmsChannel:
        if self.sms is None:
            raise DeliveryFailed("sms is not configured", 0)
        return self.sms


def _count(rate_per_s: float) -> int:
    """A rate as `count` per window: whole messages, at least one (0.5/s is 1 per 2 s)."""
    return max(1, int(rate_per_s)) if rate_per_s >= 1 else 1


def _window(rate_per_s: float) -> float:
    return _count(rate_per_s) / rate_per_s
