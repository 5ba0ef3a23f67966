"""A fake Telegram Bot API (Starlette): the methods kneebot calls, PTB-valid answers, every call recorded,
per-chat faults (slow, blocked, failing the Nth send, flood control). Serve it with fakes.serve.ServedApp."""

from __future__ import annotations

import asyncio
import html
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456:TEST-fake-token"
BOT_USER: dict[str, Any] = {
    "id": 123456,
    "is_bot": True,
    "first_name": "kneebot",
    "username": "kneebot_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
# Values PTB sends as plain strings; every other form field is JSON-encoded.
_STRING_PARAMS = frozenset(
    {
        "text",
        "secret_token",
        "url",
        "callback_query_id",
        "parse_mode",
        "language_code",
        "caption",
        "ip_address",
    }
)
_HTML_TAG = re.compile(r"<(/?)([a-z-]+)((?:\s[^<>]*)?)>")
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "blockquote",
        "tg-spoiler",
        "a",
    }
)
_HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


@dataclass
class Call:
    method: str  # as PTB spells it: "sendMessage"
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    status: int | None = None  # HTTP status of the answer; None while it is pending
    answered_at: float | None = None


@dataclass
class ChatBehaviour:
    blocked: bool = False  # 403 "bot was blocked by the user"
    fail_sends: set[int] = field(default_factory=set)  # 1-based numbers of this chat's sendMessage calls -> 500
    retry_after: int | None = None  # 429 flood control on every sendMessage
    flood_sends: dict[int, int] = field(default_factory=dict)  # send number -> 429 with this retry_after
    # A stall: each sendMessage waits (before failing or succeeding) until the test sets this event.
    hold: threading.Event | None = None


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class FakeTelegramAPI:
    """`fake.app` is the ASGI app; PTB reaches it with base_url=f"{served.url}/bot". Thread-safe: the server
    runs in uvicorn's thread while the test configures it and reads `calls` from its own."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[str | None, list[dict[str, str]]] = {}  # language_code (None: default) -> menu
        self.answered_callbacks: list[str] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message_id) -> the message as sent
        self._chats: dict[int, ChatBehaviour] = {}
        self._sends: Counter[int] = Counter()
        self._next_message_id = 1
        self._updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Event | None = None
        self.long_polling = threading.Event()  # set while a getUpdates call waits for updates
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    # --- configuring and inspecting, from the test's thread ------------------------------------------------

    def chat(self, chat_id: int | str) -> ChatBehaviour:
        with self._lock:
            return self._chats.setdefault(int(chat_id), ChatBehaviour())

    def queue_update(self, *updates: dict[str, Any]) -> None:
        """Updates for getUpdates to serve (and wake a waiting long poll)."""
        with self._lock:
            self._updates.extend(updates)
            loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Parameters of every sendMessage that succeeded, in arrival order (optionally to one chat)."""
        return [
            c.params
            for c in self.calls_to("sendMessage")
            if c.status == 200 and (chat_id is None or c.params.get("chat_id") == int(chat_id))
        ]

    # --- the API -------------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        params = await _params(request)
        method = request.path_params["method"]
        call = Call(method, params, time.monotonic())
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self.calls.append(call)
        try:
            if request.path_params["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = getattr(self, f"_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            status, body = 200, {"ok": True, "result": await handler(params, request)}
        except ApiError as exc:
            status, body = exc.code, {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        call.status, call.answered_at = status, time.monotonic()
        return JSONResponse(body, status_code=status)

    async def _getme(self, params: dict[str, Any], request: Request) -> Any:
        return BOT_USER

    async def _sendmessage(self, params: dict[str, Any], request: Request) -> Any:
        chat_id = _int(params, "chat_id")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        with self._lock:
            behaviour = self._chats.get(chat_id, ChatBehaviour())
            self._sends[chat_id] += 1
            number = self._sends[chat_id]
        if behaviour.hold is not None:
            await _released(behaviour.hold)
        with self._lock:  # read now: a test may change the faults while the send was held
            behaviour = self._chats.get(chat_id, ChatBehaviour())
        if behaviour.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if behaviour.retry_after is not None:
            raise ApiError(
                429,
                f"Too Many Requests: retry after {behaviour.retry_after}",
                {"retry_after": behaviour.retry_after},
            )
        if number in behaviour.flood_sends:
            wait = behaviour.flood_sends[number]
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        if number in behaviour.fail_sends:
            raise ApiError(500, "Internal Server Error")
        if params.get("parse_mode") == "HTML":
            text = parse_html(text)
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            _check_inline_keyboard(markup)
        with self._lock:
            message_id = self._next_message_id
            self._next_message_id += 1
            message: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": _chat(chat_id),
                "from": BOT_USER,
                "text": text,
            }
            if markup is not None:
                message["reply_markup"] = markup
            self.messages[(chat_id, message_id)] = message
        return message

    async def _editmessagereplymarkup(self, params: dict[str, Any], request: Request) -> Any:
        chat_id, message_id = _int(params, "chat_id"), _int(params, "message_id")
        markup = params.get("reply_markup")
        with self._lock:
            if self._chats.get(chat_id, ChatBehaviour()).blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            message = self.messages.get((chat_id, message_id))
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            if markup == message.get("reply_markup") or (markup is None and "reply_markup" not in message):
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message",
                )
            if markup is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = markup
            return dict(message)

    async def _editmessagetext(self, params: dict[str, Any], request: Request) -> Any:
        chat_id, message_id = _int(params, "chat_id"), _int(params, "message_id")
        text, markup = params.get("text"), params.get("reply_markup")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if markup is not None:
            _check_inline_keyboard(markup)
        with self._lock:
            message = self.messages.get((chat_id, message_id))
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            if text == message.get("text") and markup == message.get("reply_markup"):
                raise ApiError(400, "Bad Request: message is not modified")
            message["text"] = text
            if markup is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = markup
            return dict(message)

    async def _answercallbackquery(self, params: dict[str, Any], request: Request) -> Any:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or not query_id:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        with self._lock:
            self.answered_callbacks.append(query_id)
        return True

    async def _setwebhook(self, params: dict[str, Any], request: Request) -> Any:
        if not isinstance(params.get("url"), str):
            raise ApiError(400, "Bad Request: bad webhook: URL must be provided")
        with self._lock:
            self.webhook = params
        return True

    async def _getwebhookinfo(self, params: dict[str, Any], request: Request) -> Any:
        with self._lock:
            url = (self.webhook or {}).get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    async def _deletewebhook(self, params: dict[str, Any], request: Request) -> Any:
        with self._lock:
            self.webhook = None
        return True

    async def _setmycommands(self, params: dict[str, Any], request: Request) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self.commands[params.get("language_code") or None] = commands
        return True

    async def _getupdates(self, params: dict[str, Any], request: Request) -> Any:
        offset, limit = params.get("offset"), params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            pending = self._pending(offset, limit)
            remaining = deadline - loop.time()
            if pending or remaining <= 0:
                return pending
            arrived = self._arrival()
            arrived.clear()
            if self._pending(offset, limit):
                continue
            arrival = asyncio.ensure_future(arrived.wait())
            gone = asyncio.ensure_future(_disconnected(request))
            self.long_polling.set()
            try:
                done, _ = await asyncio.wait({arrival, gone}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.long_polling.clear()
                for task in (arrival, gone):
                    task.cancel()
                await asyncio.gather(arrival, gone, return_exceptions=True)
            if gone in done:
                return []  # the client went away (a poller stopping)

    def _pending(self, offset: object, limit: object) -> list[dict[str, Any]]:
        with self._lock:
            if isinstance(offset, int):  # getUpdates with an offset confirms every earlier update
                self._updates = [u for u in self._updates if u.get("update_id", 0) >= offset]
            return list(self._updates[: limit if isinstance(limit, int) else 100])

    def _arrival(self) -> asyncio.Event:
        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived

    def _wake(self) -> None:
        self._arrival().set()


# --- updates, as Telegram posts them ----------------------------------------------------------------------


def message_update(
    update_id: int,
    chat_id: int,
    text: str | None = None,
    *,
    chat_type: str = "private",
    language_code: str | None = "en",
    message_id: int = 1,
    **content: Any,
) -> dict[str, Any]:
    """A `message` update; `content` adds other fields (photo=[...], caption="...")."""
    sender: dict[str, Any] = {"id": abs(chat_id), "is_bot": False, "first_name": "Ana"}
    if language_code is not None:
        sender["language_code"] = language_code
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": _chat(chat_id, chat_type),
        "from": sender,
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def make_webhook_call(api_url: str, response: httpx.Response, token: str = TOKEN) -> None:
    """What Telegram does with a webhook response that names a Bot API method: it makes that call (and nobody learns
    the result). `api_url`: where the fake API is served."""
    if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
        params = dict(response.json())
        method = params.pop("method")
        httpx.post(f"{api_url}/bot{token}/{method}", data=params, timeout=10).raise_for_status()


def callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    *,
    message_id: int,
    callback_id: str | None = None,
    language_code: str | None = "en",
) -> dict[str, Any]:
    sender: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Ana"}
    if language_code is not None:
        sender["language_code"] = language_code
    return {
        "update_id": update_id,
        "callback_query": {
            "id": callback_id or f"cb{update_id}",
            "from": sender,
            "chat_instance": "-100200300",
            "data": data,
            "message": {"message_id": message_id, "date": 1_700_000_000, "chat": _chat(chat_id), "text": "?"},
        },
    }


def parse_html(text: str) -> str:
    """The plain text of a parse_mode=HTML message, or ApiError(400) where Telegram would refuse it."""
    stack: list[str] = []
    plain: list[str] = []
    position = 0
    for tag in _HTML_TAG.finditer(text):
        plain.append(_unescape(text[position : tag.start()]))
        position = tag.end()
        closing, name = tag.group(1) == "/", tag.group(2)
        if name not in _HTML_TAGS:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}"')
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unmatched end tag "{name}"')
    plain.append(_unescape(text[position:]))
    if stack:
        raise ApiError(400, f"Bad Request: can't parse entities: Can't find end tag corresponding to \"{stack[-1]}\"")
    return "".join(plain)


def _unescape(fragment: str) -> str:
    if "<" in fragment or ">" in fragment:
        raise ApiError(400, "Bad Request: can't parse entities: Unsupported start tag")
    if "&" in _HTML_ENTITY.sub("", fragment):
        raise ApiError(400, "Bad Request: can't parse entities: Can't find end of the entity")
    return html.unescape(fragment)


def _check_inline_keyboard(markup: object) -> None:
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in (button for row in rows for button in row):
        data = button.get("callback_data") if isinstance(button, dict) else None
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _chat(chat_id: int, chat_type: str | None = None) -> dict[str, Any]:
    kind = chat_type or ("private" if chat_id > 0 else "supergroup")
    chat: dict[str, Any] = {"id": chat_id, "type": kind}
    if kind == "private":
        chat["first_name"] = "Ana"
    else:
        chat["title"] = "Knee club"
    return chat


def _int(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, f"Bad Request: {name} is invalid")
    return value


async def _params(request: Request) -> dict[str, Any]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        decoded = json.loads(body or b"{}")
        return decoded if isinstance(decoded, dict) else {}
    params: dict[str, Any] = {}
    for name, value in [
        *request.query_params.multi_items(),
        *parse_qsl(body.decode(), keep_blank_values=True),
    ]:
        if name in _STRING_PARAMS:
            params[name] = value
        else:
            try:
                params[name] = json.loads(value)
            except ValueError:
                params[name] = value
    return params


async def _released(hold: threading.Event, at_most_s: float = 60.0) -> None:
    """Until the test sets `hold` (a fake's wait, in its own server thread: at most a minute). Waited in a thread, a
    tenth of a second at a time, so the server can still stop meanwhile."""
    deadline = time.monotonic() + at_most_s
    while time.monotonic() < deadline and not await asyncio.to_thread(hold.wait, 0.1):
        pass


async def _disconnected(request: Request) -> bool:
    """Returns once the client has gone (after the body was read, the next ASGI message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return True
