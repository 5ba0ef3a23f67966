"""Serve any ASGI app with uvicorn on a free loopback port in a background thread, for a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()


class ServedApp:
    """`with ServedApp(app) as served: httpx.get(served.url + "/path")`. The socket is bound before the server
    starts, so there is no race for the port; `__enter__` returns once uvicorn has finished startup (lifespan
    included) and is accepting connections; `__exit__` shuts it down gracefully and joins the thread."""

    def __init__(self, app: Any, *, graceful_timeout_s: int = 2, **config: Any) -> None:
        """`config`: more uvicorn.Config settings (another `http` protocol, say)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        settings: dict[str, Any] = {
            "loop": "asyncio",
            "http": "h11",
            "ws": "none",
            "lifespan": "auto",
            "log_level": "warning",
            "access_log": False,
            "timeout_graceful_shutdown": graceful_timeout_s,
        }
        self._server = _Server(uvicorn.Config(app, **(settings | config)))
        self._thread = threading.Thread(target=self._run, name=f"uvicorn:{port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit on a failed startup; reported by start()
            self._error = exc

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + ready_timeout_s
        while not self._server.ready.wait(0.05):
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError(f"the ASGI app did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"server at {self.url} not ready after {ready_timeout_s}s")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_S)
        self._sock.close()
        if self._thread.is_alive():
            raise RuntimeError(f"server at {self.url} did not stop")

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(app: Any) -> tuple[str, Callable[[], None]]:
    """Start `app`; returns its base URL and the function that stops it."""
    served = ServedApp(app).start()
    return served.url, served.stop
