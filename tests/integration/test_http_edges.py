"""Slow and vanishing clients, against the server as `kneebot serve` runs it (uvicorn with httptools and the header
deadline of bot/app/serving.py): headers and bodies that never finish are cut off, a client that hangs up is one
log line."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.app import server
from bot.app.server import create_app
from bot.app.serving import header_deadline
from tests.integration.conftest import SMS_PATH, settings_for, wait_for
from tests.integration.fakes.serve import ServedApp

DEADLINE_S = 0.5
SOCKET_TIMEOUT_S = 15.0  # a test's own guard: the server should act long before


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    monkeypatch.setattr(server, "BODY_TIMEOUT_S", DEADLINE_S)
    settings = settings_for(twilio_api="http://127.0.0.1:9", twilio_auth_token=SecretStr("edge-token"))
    with ServedApp(create_app(settings), http=header_deadline(DEADLINE_S), loop="auto") as app:
        host, port = app.url.removeprefix("http://").split(":")
        yield host, int(port)


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=SOCKET_TIMEOUT_S)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_client_that_never_finishes_its_headers_is_disconnected(served: tuple[str, int]) -> None:
    with connect(served) as sock:
        sock.sendall(b"POST " + SMS_PATH.encode() + b" HTTP/1.1\r\nHost: kneebot\r\nX-Slow: ")
        assert read_all(sock) == b""  # closed, without an answer


def test_a_client_that_opens_a_connection_and_says_nothing_is_disconnected(served: tuple[str, int]) -> None:
    with connect(served) as sock:
        assert read_all(sock) == b""


def test_a_client_that_never_finishes_its_body_gets_408(served: tuple[str, int]) -> None:
    with connect(served) as sock:
        head = f"POST {SMS_PATH} HTTP/1.1\r\nHost: kneebot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        sock.sendall(head.encode() + b"Content-Length: 100\r\n\r\nFrom=%2B1")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_client_that_hangs_up_mid_request_is_one_log_line(
    served: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with connect(served) as sock:
        head = f"POST {SMS_PATH} HTTP/1.1\r\nHost: kneebot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        sock.sendall(head.encode() + b"Content-Length: 100\r\n\r\nFrom=%2B1")
    wait_for(lambda: any("went away" in r.getMessage() for r in caplog.records))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("kneebot")] == [
        f"client went away before sending the whole request; path={SMS_PATH}"
    ]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
