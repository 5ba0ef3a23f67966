"""python-telegram-bot's HTTP transport on aiohttp instead of httpx.

PTB makes every Bot API call through a `BaseRequest`; its default, `HTTPXRequest`, spends most of a send's CPU in
httpx and httpcore (httpcore's pool bookkeeping alone was a third of the webhook's CPU in bench/README.md). The
sending side of kneebot is all Bot API calls (a reply is a sendMessage, a button press adds answerCallbackQuery and
editMessageReplyMarkup), so the transport is most of what a Telegram message costs. aiohttp is already installed
(twilio's async client uses it). PTB still builds every request, parses every answer and maps status codes to its
exceptions (Forbidden for a blocked bot, RetryAfter, ...): only the bytes on the wire go through aiohttp here.

The timeouts keep PTB's meaning where aiohttp has one: `connect_timeout` for the TCP connect, `pool_timeout` for
waiting for a free connection (aiohttp counts both in `connect`), `read_timeout` between reads. aiohttp has no write
timeout; the requests sent here are small forms.
"""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT_POOL = 64


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        connection_pool_size: int = _DEFAULT_POOL,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
        write_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        data = _form(request_data) if request_data is not None else None
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts (asyncio.TimeoutError is TimeoutError from Python 3.11)
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _given(value: float | None | object, default: float | None) -> float | None:
    """A timeout passed to one call, or this transport's default when the call left it out."""
    if value is BaseRequest.DEFAULT_NONE or not isinstance(value, int | float | type(None)):
        return default
    return None if value is None else float(value)


def _form(request_data: RequestData) -> aiohttp.FormData | dict[str, str]:
    """The call's parameters as a urlencoded form (as HTTPXRequest sends them), or multipart with its files."""
    if not request_data.contains_files:
        return request_data.json_parameters
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, part in request_data.multipart_data.items():
        if isinstance(part, tuple):
            filename, content, *mime = part
            form.add_field(name, content, filename=filename, content_type=mime[0] if mime else None)
        else:
            form.add_field(name, part)
    return form
