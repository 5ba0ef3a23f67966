"""The red-flag screen, per message: the screen as it was (the regex screen at commit f9b45b7, loaded from git into a
temporary module in this run) against the screen as it is (the vocabulary read through the Lexicon), on the same
messages in the same process.

Typical messages are the project's phrase suite (tests/data/phrases.yaml, up to 160 characters) and short answers;
long messages are the suite's texts run together to 4,096 and 65,536 characters, and a negated list repeated to the
same lengths ("no chest pain, " again and again: the message issue #13 found blocking the old screen for 11 s).
Prints the median and p99 per message (the median and the slowest for long ones). No I/O is timed: both screens are
pure.
Run: .venv/bin/python bench/bench_screen.py [--rounds 3] [--long-repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.content.loader import load_content  # noqa: E402

BEFORE = "f9b45b7"
ANSWERS = ["1", "2", "yes", "no", "not sure", "3 days", "none of these", "si", "no sé", "about a week"]


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def screen_before() -> Callable[[str], Any]:
    """bot/triage/red_flags.py and text.py as they were at BEFORE, as modules of their own."""

    def module(name: str, path: str, replace: tuple[str, str] | None = None) -> types.ModuleType:
        source = subprocess.run(
            ["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        if replace:
            source = source.replace(*replace)
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        exec(compile(source, f"{BEFORE}:{path}", "exec"), mod.__dict__)
        return mod

    module("kneebot_before_text", "bot/triage/text.py")
    red_flags = module(
        "kneebot_before_red_flags",
        "bot/triage/red_flags.py",
        ("from bot.triage.text import", "from kneebot_before_text import"),
    )
    return red_flags.screen  # type: ignore[no-any-return]


def timed(screen: Callable[[str], Any], texts: Sequence[str], rounds: int) -> list[float]:
    out: list[float] = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            screen(text)
            out.append(time.perf_counter() - start)
    return out


def long_text(texts: Sequence[str], size: int) -> str:
    joined, i = [], 0
    while sum(map(len, joined)) + len(joined) < size:
        joined.append(texts[i % len(texts)])
        i += 1
    return " ".join(joined)[:size]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long-repeats", type=int, default=3)
    args = parser.parse_args()
    suite = yaml.safe_load((ROOT / "tests" / "data" / "phrases.yaml").read_text(encoding="utf-8"))["messages"]
    typical = [c["text"] for c in suite if len(c["text"]) <= 160] + ANSWERS * 20
    screens = {"before": screen_before(), "after": load_content().language.screen}
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"typical messages: {len(typical)} x {args.rounds} rounds (suite texts up to 160 characters, short answers)")
    for name, screen in screens.items():
        # One pass first, untimed: a running server's state (the tree of phrases grows with the words it meets, and
        # both screens remember short answers).
        first = timed(screen, typical, 1)
        per = timed(screen, typical, args.rounds)
        print(f"  {name:6} first pass, p99 {pct(first, 0.99) * 1e3:7.3f} ms   max {max(first) * 1e3:7.3f} ms")
        print(f"  {name:6} median {statistics.median(per) * 1e3:7.3f} ms   p99 {pct(per, 0.99) * 1e3:7.3f} ms")
    chatter = [c["text"] for c in suite]
    for kind, texts in (("the suite run together", chatter), ('"no chest pain, " repeated', ["no chest pain,"])):
        for size in (4096, 65536):
            text = long_text(texts, size)
            print(f"{size} characters, {kind} ({len(text.split())} words) x {args.long_repeats}")
            for name, screen in screens.items():
                per = timed(screen, [text], args.long_repeats)
                print(f"  {name:6} median {statistics.median(per) * 1e3:9.1f} ms   max {max(per) * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()
