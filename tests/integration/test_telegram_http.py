"""AiohttpRequest, python-telegram-bot's transport here, against small servers on loopback: what goes on the wire,
and the errors PTB expects from a transport (TimedOut, NetworkError; status codes are PTB's own business)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import pytest
from telegram import Bot
from telegram.error import Forbidden, NetworkError, TimedOut

from bot.channels.telegram_http import AiohttpRequest

TOKEN = "123456:test-token"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next((int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length:")), 0)
    return lines[0], await reader.readexactly(length)


def answer(writer: asyncio.StreamWriter, status: str, payload: dict[str, object]) -> None:
    body = json.dumps(payload).encode()
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/bot"


def test_a_call_goes_as_a_form_and_its_answer_comes_back() -> None:
    seen: list[tuple[str, dict[str, list[str]]]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            seen.append((line, parse_qs(body.decode())))
            message = {"message_id": 7, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}
            answer(writer, "200 OK", {"ok": True, "result": message})
            await writer.drain()

    # Bot's context manager calls getMe first: answer it, then the calls.
    async def with_me(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _ = await read_request(reader)
        assert "/getMe" in line
        answer(writer, "200 OK", {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "kneebot"}})
        await writer.drain()
        await handler(reader, writer)

    async def run() -> None:
        server, url = await serve(with_me)
        async with server, Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
            sent = await bot.send_message(chat_id=5, text="How is your knee today?")
        assert sent.message_id == 7

    asyncio.run(run())
    line, form = seen[0]
    assert line.startswith(f"POST /bot{TOKEN}/sendMessage ")
    assert form == {"chat_id": ["5"], "text": ["How is your knee today?"]}


def test_a_status_code_is_left_to_ptb_a_403_is_forbidden() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        answer(writer, "403 Forbidden", {"ok": False, "error_code": 403, "description": "bot was blocked by the user"})
        await writer.drain()

    async def run() -> None:
        server, url = await serve(handler)
        async with server, AiohttpRequest() as request:  # PTB's BaseRequest opens and closes itself
            with pytest.raises(Forbidden):
                await request.post(f"{url}{TOKEN}/sendMessage", None)

    asyncio.run(run())


def test_a_server_that_never_answers_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # never answers: waits until the client, timed out, hangs up

    async def run() -> None:
        server, url = await serve(handler)
        async with server, AiohttpRequest(read_timeout=0.2) as request:  # PTB's BaseRequest opens and closes itself
            with pytest.raises(TimedOut):
                await request.post(f"{url}{TOKEN}/sendMessage", None)

    asyncio.run(run())


def test_nothing_listening_is_a_network_error_and_an_unopened_transport_refuses() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there

    async def run() -> None:
        request = AiohttpRequest()
        with pytest.raises(RuntimeError):
            await request.do_request(f"http://127.0.0.1:{port}/x", "POST")
        async with request:
            with pytest.raises(NetworkError) as raised:
                await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage", None)
        assert not isinstance(raised.value, TimedOut)

    asyncio.run(run())
