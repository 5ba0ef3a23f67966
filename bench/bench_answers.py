"""Reading an answer (bot.triage.matching.read_answer) beside the red-flag screen every message already goes through.

Three sets of messages, each read at its own question: the most common short answers ("2", "yes", "no", "not sure"),
which take the cheap path; the same answers forced through the full reader (padded with spaces past SHORT); and the
free-text answers of tests/data/answers.yaml. Prints the median and p99 microseconds per message for the reader and,
as the baseline measured in the same run, for screen() of the same messages.
Run: .venv/bin/python bench/bench_answers.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.content.loader import load_content
from bot.triage.matching import SHORT, read_answer
from bot.triage.red_flags import screen

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
COMMON = [
    ("intake.emergency_signs", "6"),
    ("intake.calf", "no"),
    ("intake.calf", "yes"),
    ("intake.knee_swelling", "4"),
    ("intake.start_how", "3"),
    ("intake.walk", "yes"),
    ("intake.mechanical", "none"),
    ("intake.course", "2"),
    ("intake.pain", "5"),
    ("intake.age", "34"),
    ("intake.fever", "not sure"),
    ("checkin.how", "better"),
]


def timed(calls: list[Callable[[], object]], rounds: int) -> list[float]:
    """Microseconds per call, one figure per call per round."""
    out: list[float] = []
    for _ in range(rounds):
        for call in calls:
            start = time.perf_counter_ns()
            call()
            out.append((time.perf_counter_ns() - start) / 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    content = load_content()
    suite = yaml.safe_load((ROOT / "tests" / "data" / "answers.yaml").read_text(encoding="utf-8"))
    sets = {
        "common, cheap path": COMMON,
        "common, full reader": [(at, text + " " * SHORT) for at, text in COMMON],
        "free text (suite)": [(item["at"], item["say"]) for item in suite],
    }
    print(f"python {platform.python_version()} on {platform.machine()}, {args.rounds} rounds")
    print(f"{'messages':22} {'n':>4} {'read median':>12} {'read p99':>9} {'screen median':>14} {'screen p99':>11}")
    for name, messages in sets.items():
        reads: list[Callable[[], object]] = []
        screens: list[Callable[[], object]] = []
        for at, text in messages:
            flow_id, node = at.split(".")
            flow = content.flows[flow_id]
            reads.append(lambda f=flow, n=node, t=text: read_answer(content.language, f, n, t, NOW))
            screens.append(lambda t=text: screen(t))
        read = timed(reads, args.rounds)
        base = timed(screens, args.rounds)
        print(
            f"{name:22} {len(messages):>4} {statistics.median(read):>10.1f}us {pct(read, 0.99):>7.1f}us"
            f" {statistics.median(base):>12.1f}us {pct(base, 0.99):>9.1f}us"
        )


if __name__ == "__main__":
    main()
