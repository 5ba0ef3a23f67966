"""Telegram channel: raw update dicts in, Bot API calls out (python-telegram-bot as the HTTP client only).

Its webhook is checked by the secret token Telegram sends with every update, and answered at once: the replies go
by Bot API calls after the turn is stored (a button press can be answered in the webhook's own response).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import (
    FormError,
    Inbound,
    Limits,
    Message,
    OptedOut,
    Rate,
    SendFailed,
    WebhookReply,
)
from bot.channels.render import render_telegram
from bot.channels.telegram_http import AiohttpRequest
from bot.content.catalog import Catalog
from bot.triage.effects import SendReply
from bot.triage.events import ChoiceSelected, CommandReceived, Event, MessageReceived

log = logging.getLogger("kneebot.telegram")
# How long a send may take to be answered. Telegram answers in well under a second; an answer that is slow is still
# an answer: giving up on it (at PTB's 5 s) and sending again is how one message became two.
SEND_TIMEOUT_S = 30.0

ALLOWED_UPDATES = ("message", "callback_query")
COMMANDS = ("start", "help", "restart", "back", "language", "country", "human", "stop", "delete")  # menu order
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?", re.DOTALL)
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a t.me/<bot>?start= deep link: no room for words
_LANGUAGES = {
    **dict.fromkeys(["en", "english", "ingles", "inglés"], "en"),
    **dict.fromkeys(["es", "espanol", "español", "spanish"], "es"),
}
# Message kinds a person sends that we cannot read; service messages (joins, pins...) are not among them.
_MEDIA = (
    "photo", "sticker", "voice", "video", "video_note", "animation", "audio", "document", "location", "venue",
    "contact", "poll", "dice", "story", "paid_media", "game",
)  # fmt: skip


NAME = "telegram"
PATH = "/telegram/webhook"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
CHAT_BURST = 3  # "avoid more than one message per second in a chat; short bursts are allowed"


class TelegramBlocked(OptedOut):
    """The person blocked the bot (HTTP 403): treat them as opted out."""


class TelegramSendError(SendFailed):
    """Any other Bot API failure. `retry_after` is set (seconds) when Telegram asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after or 30.0, asked_s=retry_after)
        self.retry_after = retry_after


class TelegramTokenRejected(TelegramSendError):
    """Telegram does not know the bot token: a setting to fix, not an outage to wait out."""


def parse_update(update: Mapping[str, Any]) -> Inbound | None:
    """One raw update as Telegram posts it; None for anything we ignore or cannot read. Never raises."""
    if not isinstance(update, Mapping):
        return None
    update_id = update.get("update_id")
    if not _is_int(update_id):
        return None
    if "message" in update:
        return _message(str(update_id), update["message"])
    if "callback_query" in update:
        return _callback(str(update_id), update["callback_query"])
    return None


def _message(update_id: str, message: object) -> Inbound | None:
    if not isinstance(message, Mapping):
        return None
    chat = _chat(message)
    if chat is None:
        return None
    chat_id, chat_type = chat
    text = message.get("text")
    has_text = isinstance(text, str) and bool(text.strip())
    has_media = any(kind in message for kind in _MEDIA)
    locale = _locale(message.get("from"))
    if chat_type in ("group", "supergroup"):
        # No conversation in a group, but words that carry a red flag still get the emergency message there.
        words = text if isinstance(text, str) else message.get("caption")
        said = MessageReceived(words) if isinstance(words, str) and words.strip() else None
        if said is None and not has_media:
            return None
        return Inbound(NAME, str(chat_id), update_id, said, notice="notice.group", locale=locale, group_chat=True)
    if chat_type != "private":
        return None
    event: Event
    if isinstance(text, str):
        if not has_text:
            return None
        event = _text_event(text)
    elif has_media:
        caption = message.get("caption")
        if not (isinstance(caption, str) and caption.strip()):
            return Inbound(NAME, str(chat_id), update_id, None, notice="notice.unsupported", locale=locale)
        # A photo captioned "calf swollen, can't breathe" must reach the red-flag screen like any text.
        event = MessageReceived(caption)
    else:
        return None
    return Inbound(NAME, str(chat_id), update_id, event, locale=locale)


def _text_event(text: str) -> Event:
    found = _COMMAND.fullmatch(text.strip())
    if found is None:
        return MessageReceived(text)
    name = found.group(1).lower()
    argument = (found.group(2) or "").strip()
    if name not in COMMANDS:
        return MessageReceived(text)
    if not argument:
        return CommandReceived(name)
    if name == "language" and argument.lower() in _LANGUAGES:
        return CommandReceived(name, _LANGUAGES[argument.lower()])
    if name == "start" and _START_PAYLOAD.fullmatch(argument):
        return CommandReceived(name)
    # "/stop my chest hurts": a command event would skip the red-flag screen, so the words go in as text.
    return MessageReceived(text)


def _callback(update_id: str, query: object) -> Inbound | None:
    if not isinstance(query, Mapping):
        return None
    callback_id, data, message = query.get("id"), query.get("data"), query.get("message")
    if not isinstance(callback_id, str) or not isinstance(data, str) or not isinstance(message, Mapping):
        return None
    chat, button_message_id = _chat(message), message.get("message_id")
    if chat is None or chat[1] not in ("private", "group", "supergroup") or not _is_int(button_message_id):
        return None
    node, colon, choice = data.partition(":")
    if not (colon and node and choice):
        return None
    sender = query.get("from")
    name = sender.get("first_name") if isinstance(sender, Mapping) else None
    return Inbound(
        NAME,
        str(chat[0]),
        update_id,
        ChoiceSelected(node, choice),
        locale=_locale(sender),
        callback_id=callback_id,
        button_message_id=button_message_id,
        group_chat=chat[1] != "private",
        # A staff member pressing a case card's button: their first name says who acknowledged it.
        sender_name=name[:64] if chat[1] != "private" and isinstance(name, str) and name.strip() else None,
    )


def _chat(message: Mapping[Any, Any]) -> tuple[int, str] | None:
    chat = message.get("chat")
    if not isinstance(chat, Mapping):
        return None
    chat_id, chat_type = chat.get("id"), chat.get("type")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool) or not isinstance(chat_type, str):
        return None
    return chat_id, chat_type


def _locale(sender: object) -> str | None:
    if isinstance(sender, Mapping):
        code = sender.get("language_code")
        if isinstance(code, str) and code.lower().startswith("es"):
            return "es"
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def emphasise_number(text: str, number: str) -> str:
    """HTML for a message with an emergency number: the text escaped, the number in bold.

    Not a tel: link: the Bot API keeps only http(s) and tg:// links (TDLib's check_link drops anything else
    silently, and inline URL buttons reject it), so a tel: link would promise a tap that does nothing.
    """
    escaped = html.escape(text, quote=False)
    target = html.escape(number, quote=False)
    found = re.search(rf"(?<![\w+]){re.escape(target)}(?!\w)", escaped)
    if found is None:
        return f"{escaped}\n\n<b>{target}</b>"
    return f"{escaped[: found.start()]}<b>{target}</b>{escaped[found.end() :]}"


def keyboard(message: Message) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data)] for b in message.buttons])


class TelegramChannel:
    name = NAME
    prefix = "tg"
    path = PATH
    replies_in_response = False

    def __init__(
        self,
        token: str,
        catalog: Catalog,
        *,
        webhook_secret: str | None = None,
        base_url: str = "https://api.telegram.org/bot",
        base_file_url: str | None = None,
        rate_limit: bool = True,
        rate_per_s: float = 30.0,
        chat_rate_per_s: float = 1.0,
    ) -> None:
        self._catalog = catalog
        self._secret = webhook_secret.encode() if webhook_secret else None
        # Telegram: about 30 messages/s per bot; in a chat, "avoid more than one message per second; short bursts are
        # allowed". A reply is often two or three messages in a row, so the chat's limit is averaged over a burst.
        self.limits = Limits(Rate.of(rate_per_s), Rate.of(chat_rate_per_s, CHAT_BURST))
        # Per process only: about 30 messages/s overall, 20/min per group. Across workers it needs Redis.
        self._bot: ExtBot[int] = ExtBot(
            token,
            base_url=base_url,
            base_file_url=base_file_url or "https://api.telegram.org/file/bot",
            rate_limiter=AIORateLimiter(max_retries=0) if rate_limit else None,
            request=AiohttpRequest(read_timeout=SEND_TIMEOUT_S),  # a sixth of httpx's CPU per call (telegram_http.py)
            get_updates_request=AiohttpRequest(connection_pool_size=1),
        )

    @property
    def bot(self) -> ExtBot[int]:
        return self._bot

    async def start(self) -> None:
        """Open the HTTP client and check the token (getMe)."""
        try:
            await self._bot.initialize()
        except InvalidToken:
            raise TelegramTokenRejected("Telegram rejected the bot token") from None  # PTB's message quotes the token
        except TelegramError as exc:
            raise TelegramSendError(f"getMe failed: {type(exc).__name__}") from exc

    async def stop(self) -> None:
        await self._bot.shutdown()

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """The secret token Telegram sends with every update, as set by `set_webhook`."""
        given = headers.get(SECRET_HEADER, "").encode()
        return self._secret is not None and hmac.compare_digest(given, self._secret)

    def parse(self, body: bytes) -> Inbound | None:
        try:
            update = json.loads(body)
        except (ValueError, RecursionError):  # deep nesting overflows the JSON decoder
            raise FormError("not JSON") from None
        return parse_update(update) if isinstance(update, dict) else None

    def render(self, replies: Sequence[SendReply], locale: str, *, since_wrote: timedelta | None = None) -> list[Any]:
        """The Telegram messages these replies become, in order (one send each)."""
        return [render_telegram(reply, self._catalog, locale) for reply in replies]

    def render_message(self, message: Message) -> Message:
        return message

    async def send(self, to: str, unit: Any) -> int:
        """Send one message (a Message); its message id."""
        assert isinstance(unit, Message)
        return await self._send(to, unit)

    def respond(self, replies: Sequence[SendReply], locale: str) -> WebhookReply:
        return WebhookReply()

    def respond_text(self, text: str) -> WebhookReply:
        return WebhookReply()

    def answer_in_response(self, callback_id: str) -> WebhookReply:
        """A button press answered in the webhook's own response: Telegram makes the call as it takes it."""
        call = {"method": "answerCallbackQuery", "callback_query_id": callback_id}
        return WebhookReply(200, json.dumps(call).encode(), "application/json")

    def phone(self, to: str) -> str | None:
        return None

    async def redraw(self, to: str, message_id: int, message: Message) -> None:
        """Replace a message's text and buttons (staff case cards); best effort, like acknowledge."""
        markup = keyboard(message)
        edit = self._bot.edit_message_text(message.text, chat_id=to, message_id=message_id, reply_markup=markup)
        await self._quietly("editMessageText", edit)

    async def acknowledge(
        self, to: str, callback_id: str | None, button_message_id: int | None, text: str = ""
    ) -> None:
        """Stop the button's spinner (showing `text`, if any) and remove the keyboard it was on, so it cannot answer
        a later question. Best effort: a failure here is logged and never stops the conversation."""
        calls = []
        if callback_id is not None:
            answer = self._bot.answer_callback_query(callback_id, text=text or None)
            calls.append(self._quietly("answerCallbackQuery", answer))
        if button_message_id is not None:
            edit = self._bot.edit_message_reply_markup(chat_id=to, message_id=button_message_id, reply_markup=None)
            calls.append(self._quietly("editMessageReplyMarkup", edit))
        await asyncio.gather(*calls)

    async def webhook_url(self) -> str:
        """The webhook Telegram has for this bot ('' when none: updates wait for getUpdates)."""
        info = await self._call(self._bot.get_webhook_info())
        return str(info.url or "")

    async def set_webhook(self, url: str, secret: str) -> None:
        await self._call(self._bot.set_webhook(url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)))

    async def set_commands(self) -> None:
        """The command menu in each locale; the default locale's menu is the one for every other language."""
        for locale in self._catalog.locales:
            commands = [BotCommand(name, self._catalog.raw(f"menu.{name}", locale)) for name in COMMANDS]
            language = None if locale == self._catalog.default_locale else locale
            await self._call(self._bot.set_my_commands(commands, language_code=language))

    async def poll(
        self,
        handle: Callable[[Mapping[str, Any]], Awaitable[None]],
        *,
        stop: asyncio.Event | None = None,
        timeout_s: int = 25,
        retry_s: float = 5.0,
    ) -> None:
        """Long polling for development: drop the webhook, then hand each update's dict to `handle`."""
        stop = stop or asyncio.Event()
        await self._call(self._bot.delete_webhook())
        offset: int | None = None
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.ensure_future(
                    self._bot.get_updates(offset=offset, timeout=timeout_s, allowed_updates=list(ALLOWED_UPDATES))
                )
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await fetch
                    break
                try:
                    updates = fetch.result()
                except TelegramError as exc:
                    log.warning("getUpdates failed: %s; retrying in %ss", type(exc).__name__, retry_s)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopping), retry_s)
                    continue
                for update in updates:
                    offset = update.update_id + 1
                    try:
                        await handle(update.to_dict())
                    except Exception:
                        log.exception("handling a polled update failed")
        finally:
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping

    async def _send(self, chat_id: str, message: Message) -> int:
        if message.call:
            text, mode = emphasise_number(message.text, message.call), ParseMode.HTML
        else:
            text, mode = message.text, None
        sent = await self._call(self._bot.send_message(chat_id, text, parse_mode=mode, reply_markup=keyboard(message)))
        return int(getattr(sent, "message_id", 0))

    async def _call(self, request: Awaitable[Any]) -> Any:
        try:
            return await request
        except Forbidden as exc:
            raise TelegramBlocked(exc.message) from exc
        except RetryAfter as exc:
            raise TelegramSendError(type(exc).__name__, retry_after=_seconds(exc)) from exc
        except TelegramError as exc:
            raise TelegramSendError(f"{type(exc).__name__}: {exc.message}") from exc

    async def _quietly(self, method: str, request: Awaitable[Any]) -> None:
        try:
            await request
        except BadRequest as exc:  # "message is not modified", "message to edit not found", "query is too old"
            log.info("%s ignored: %s", method, exc.message)
        except TelegramError as exc:
            log.warning("%s failed: %s", method, type(exc).__name__)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # int now, timedelta in PTB 23
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
