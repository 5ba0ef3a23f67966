"""The red-flag screen, per message: the screen as it was (the regex screen at commit f9b45b7, loaded from git into a
temporary module in this run) against the screen as it is (the vocabulary read through the Lexicon), on the same
messages in the same process.

Typical messages are the project's phrase suite (tests/data/phrases.yaml, up to 160 characters) and short answers;
long messages are the suite's texts run together to 4,096 and 65,536 characters, and a negated list repeated to the
same lengths ("no chest pain, " again and again: the message issue #13 found blocking the old screen for 11 s).
Prints the median and p99 per message (the median and the slowest for long ones). No I/O is timed: both screens are
pure. The objects loaded at start-up are set aside from the garbage collector first, as `kneebot serve` does.

`--baseline REF` also times the whole screen of another commit of this repository (its vocabulary and code, from
`git archive`) against this tree's, on the same messages, each in a process of its own, in turn (`--runs` times):
what a change of the vocabulary or the reader costs.
Run: .venv/bin/python bench/bench_screen.py [--rounds 3] [--long-repeats 3] [--baseline main --runs 3]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
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


def messages() -> tuple[list[str], list[str]]:
    """The typical messages, and the texts long ones are made of (the suite's)."""
    suite = yaml.safe_load((ROOT / "tests" / "data" / "phrases.yaml").read_text(encoding="utf-8"))["messages"]
    return [c["text"] for c in suite if len(c["text"]) <= 160] + ANSWERS * 20, [c["text"] for c in suite]


def time_tree(tree: Path, rounds: int, long_repeats: int) -> None:
    """This process times the screen of one tree (its own code and vocabulary) on this tree's messages."""
    typical, chatter = messages()
    sys.path.insert(0, str(tree))
    for name in [m for m in sys.modules if m == "bot" or m.startswith("bot.")]:
        del sys.modules[name]
    from bot.content.loader import load_content as load  # noqa: PLC0415

    screen = load(tree).language.screen
    gc.freeze()
    timed(screen, typical, 1)
    per = timed(screen, typical, rounds)
    label = f"{tree.name:10}"
    print(f"  {label} typical  median {statistics.median(per) * 1e3:7.3f} ms   p99 {pct(per, 0.99) * 1e3:7.3f} ms")
    for kind, texts in (("suite", chatter), ("no chest pain", ["no chest pain,"])):
        for size in (4096, 65536):
            per = timed(screen, [long_text(texts, size)], long_repeats)
            print(f"  {label} {size:5} {kind:13} median {statistics.median(per) * 1e3:7.1f} ms", flush=True)


def against(ref: str, runs: int, rounds: int, long_repeats: int) -> None:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        baseline = Path(folder) / ref.replace("/", "_")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(baseline, filter="data")
        print(f"the screen of {ref} ({baseline.name}) and of this tree ({ROOT.name}), each in its own process, in turn")
        for run in range(runs):
            print(f"run {run + 1}")
            for tree in (baseline, ROOT):
                command = [sys.executable, __file__, "--time-tree", str(tree), "--rounds", str(rounds)]
                subprocess.run([*command, "--long-repeats", str(long_repeats)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long-repeats", type=int, default=3)
    parser.add_argument("--baseline", help="a git ref whose whole screen is timed against this tree's")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-tree", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_tree:
        time_tree(args.time_tree, args.rounds, args.long_repeats)
        return
    typical, chatter = messages()
    screens = {"before": screen_before(), "after": load_content().language.screen}
    gc.freeze()
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
    for kind, texts in (("the suite run together", chatter), ('"no chest pain, " repeated', ["no chest pain,"])):
        for size in (4096, 65536):
            text = long_text(texts, size)
            print(f"{size} characters, {kind} ({len(text.split())} words) x {args.long_repeats}")
            for name, screen in screens.items():
                per = timed(screen, [text], args.long_repeats)
                print(f"  {name:6} median {statistics.median(per) * 1e3:9.1f} ms   max {max(per) * 1e3:9.1f} ms")
    if args.baseline:
        against(args.baseline, args.runs, args.rounds, args.long_repeats)


if __name__ == "__main__":
    main()
