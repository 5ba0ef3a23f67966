"""Child processes for the tests and the benches: their CPU, their readiness line, and counting in time windows."""

from __future__ import annotations

import os
import selectors
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import uvicorn

TICKS = os.sysconf("SC_CLK_TCK")


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "MISSING"


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used; NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICKS


def most_in_any_window(times: Sequence[float], window_s: float) -> int:
    """The largest number of times inside any half-open window [t, t + window_s)."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


class ReadyServer(uvicorn.Server):
    """uvicorn on port 0 that prints `READY <port>` once it listens, for the parent to read (`ready_port`)."""

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"READY {self.servers[0].sockets[0].getsockname()[1]}", flush=True)


def ready_port(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """The port a child announced with `READY <port>` on its stdout, or None if it said nothing else in time."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        line = proc.stdout.readline() if selector.select(timeout=timeout_s) else b""
    return int(line.split()[1]) if line.startswith(b"READY ") else None
