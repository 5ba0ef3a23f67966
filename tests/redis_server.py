"""A private redis-server on a free loopback port, without persistence, for tests and bench scripts."""

from __future__ import annotations

import atexit
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis.asyncio

_SHARED_PORT = 6379
_START_TIMEOUT_S = 10.0


class CountingConnection(redis.asyncio.Connection):
    """Counts round trips: redis-py writes each command, or pipeline, with one send_packed_command and awaits its
    reply before writing again, so writes == round trips. Use it as a pool's connection_class; reset `writes`."""

    writes = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).writes += 1
        await super().send_packed_command(command, check_health)


def stop_process(proc: subprocess.Popen[Any], timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


class RedisServerUnavailable(RuntimeError):
    """No redis-server binary, or it would not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _recv_line(sock: socket.socket, buffer: bytearray) -> bytes:
    while b"\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis-server closed the connection")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\r\n")
    buffer[:] = rest
    return line


def command(port: int, *args: str) -> bytes:
    """Send one command over a fresh connection; return a simple or bulk reply's payload."""
    request = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(request)
        buffer = bytearray()
        header = _recv_line(sock, buffer)
        if header[:1] == b"-":
            raise RuntimeError(header[1:].decode())
        if header[:1] != b"$":
            return header[1:]
        size = int(header[1:])
        while len(buffer) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            buffer += chunk
        return bytes(buffer[:size])


class RedisServer:
    """`with RedisServer() as server: ... server.url`. Only ever stops or flushes the process it started."""

    def __init__(self, binary: str = "redis-server") -> None:
        self._binary = binary
        self._port: int | None = None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._atexit = False

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server was never started")
        return self._port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RedisServer:
        """Start (on the same port as before, after a stop) and wait until it answers as our process."""
        if self.running:
            return self
        binary = shutil.which(self._binary)
        if binary is None:
            raise RedisServerUnavailable(f"{self._binary!r} not found on PATH (apt-get install redis-server)")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="kneebot-redis-"))
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        # A fresh port can be taken between probing and binding; the fixed port of a restart cannot change.
        for _ in range(5 if self._port is None else 1):
            port = self._port or free_port()
            if port == _SHARED_PORT:
                continue
            proc = self._spawn(binary, port)
            if self._wait_ready(proc, port):
                self._proc, self._port = proc, port
                return self
            self._reap(proc)
        raise RedisServerUnavailable(f"redis-server did not start; log:\n{self._log_tail()}")

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._halt()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def restart(self) -> None:
        """Stop and start again on the same port, with an empty dataset (there is no persistence)."""
        self._halt()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang and time out, and nothing stored is lost."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def resume_if_paused(self) -> None:
        """SIGCONT, which a running server ignores: after a test that may have left it frozen."""
        if self.running:
            self.resume()

    def flushall(self) -> None:
        if not self.running:
            raise RuntimeError("the server is not running")
        command(self.port, "FLUSHALL")

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, binary: str, port: int) -> subprocess.Popen[bytes]:
        assert self._dir is not None
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self._dir), "--logfile", str(self._dir / "redis.log"), "--daemonize", "no"]
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], port: int) -> bool:
        # Polling is the only portable readiness signal; checking process_id guarantees that the server
        # answering on this port is the one we started, never somebody else's.
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = command(port, "INFO", "server")
            except (OSError, RuntimeError):
                time.sleep(0.01)
                continue
            found = re.search(rb"process_id:(\d+)", info)
            return found is not None and int(found[1]) == proc.pid
        return False

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> None:
        stop_process(proc, timeout_s=10)

    def _halt(self) -> None:
        if self._proc is not None:
            self._reap(self._proc)
            self._proc = None

    def _log_tail(self) -> str:
        log = self._dir / "redis.log" if self._dir is not None else None
        if log is None or not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-10:])
