"""What the bench scripts share: package versions, process CPU from /proc, and windowed counts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

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
