"""Sending outside a webhook reply: one message at a time, within the providers' limits, resumable after a crash.

Every message first takes a slot from the rate limiter shared through Redis (Telegram: about 30 messages/s per bot and
1/s per chat; SMS: a configured rate per sending number), so the limits hold across every web and worker process
together. After each message the count sent is recorded against the inbound (or check-in) id, so a retry after a
crash sends only what was not yet sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.channels.render import TelegramMessage
from bot.channels.sms import SmsChannel, SmsSendError, SmsUnsubscribed
from bot.channels.telegram import TelegramBlocked, TelegramChannel, TelegramSendError
from bot.config import Settings
from bot.metrics import Metrics
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore
from bot.storage.ratelimit import Limit, RedisRateLimiter
from bot.triage.effects import SendReply

log = logging.getLogger("kneebot.delivery")
SLOT_TIMEOUT_S = 30.0
CHAT_BURST = 3


class OptedOut(Exception):
    """The person blocked the bot (Telegram 403) or unsubscribed (Twilio 21610): send them nothing more."""


class DeliveryFailed(Exception):
    """Not sent this time; worth a retry after `retry_after_s`."""

    def __init__(self, reason: str, retry_after_s: float = 30.0) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


@dataclass
class Deliverer:
    settings: Settings
    store: ConversationStore
    limiter: RedisRateLimiter | None
    telegram: TelegramChannel | None
    sms: SmsChannel | None
    metrics: Metrics | None = None

    def limits(self, channel: str, participant: str | None) -> list[Limit]:
        s = self.settings
        if channel == "telegram":
            limits = [Limit("telegram", _count(s.telegram_rate_per_s), _window(s.telegram_rate_per_s))]
            if participant is not None:
                # Telegram: "avoid more than one message per second in a chat; short bursts are allowed". A reply
                # is often two or three messages in a row, so the chat's limit is its rate averaged over a burst.
                burst = CHAT_BURST * _count(s.telegram_chat_rate_per_s)
                limits.append(
                    Limit(f"telegram-chat:{participant}", burst, CHAT_BURST * _window(s.telegram_chat_rate_per_s))
                )
            return limits
        return [Limit("sms-from", _count(s.sms_rate_per_s), _window(s.sms_rate_per_s))]

    async def slot(self, channel: str, participant: str | None, token: str) -> None:
        if self.limiter is None:
            return
        if not await self.limiter.acquire(self.limits(channel, participant), token, timeout_s=SLOT_TIMEOUT_S):
            raise DeliveryFailed("rate limit: no slot in time", retry_after_s=1.0)

    async def deliver(
        self, participant: str, address: Address, message_key: str, replies: Sequence[SendReply], locale: str
    ) -> int:
        """Send what was not sent yet of these replies; how many messages this call sent."""
        done = await self.store.delivered(participant, message_key)
        if address.channel == "telegram":
            units: Sequence[TelegramMessage | str] = self._telegram().render(replies, locale)
        else:
            units = self._sms().bodies(replies, locale)
        sent = 0
        for index, unit in enumerate(units):
            if index < done:
                continue
            await self.slot(address.channel, participant, "reply")
            await self.send(address, unit)
            await self.store.mark_delivered(participant, message_key, index + 1)
            sent += 1
        return sent

    async def send(self, address: Address, unit: TelegramMessage | str) -> int:
        """One message, no limiter; its Telegram message id (0 for SMS). Raises OptedOut or DeliveryFailed."""
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
            raise DeliveryFailed("telegram send failed", exc.retry_after or 30.0) from None
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
