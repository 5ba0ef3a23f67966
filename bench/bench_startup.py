"""Start-up: what every `kneebot` command pays before it does anything, against another commit in the same run.

For a baseline commit (its code and content, from `git archive`) and this tree, read from the copy of its loaded
content (bot/content/cache.py, made before timing) and loaded without it (KNEEBOT_CONTENT_CACHE=off), in turn,
`--runs` times each, every figure from a process of its own:
- load: `load_content()` in a process that has already imported the loader (wall and CPU seconds);
- screen: a whole `python -m bot screen "my calf is swollen"` process (wall);
- triage: a whole `python -m bot triage FILE` process (wall);
and, with `--instructions` (valgrind's callgrind, where installed), the instructions the whole `screen` and `triage`
processes execute: a count the other work on a shared machine does not move. Medians, with the range.

The processes run as the environment has them: where PYTHONDONTWRITEBYTECODE is set (as on these machines), every
process compiles the package's modules again; `--bytecode` compiles both trees first (`compileall`), as an install
that keeps bytecode would.
Run: .venv/bin/python bench/bench_startup.py [--baseline 2102ec8] [--runs 15] [--instructions] [--bytecode]
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = "my calf is swollen"
FINDINGS = {"calf_swelling_one_side": True, "short_of_breath": True}
LOAD = """
import sys, time
from bot.content.loader import load_content
wall, cpu = time.perf_counter(), time.process_time()
load_content()
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


# Each tree's copy of its content in a folder of the bench's own (the baseline may not make one).
CACHE = tempfile.mkdtemp(prefix="kneebot-bench-content-")


def run(tree: Path, args: Sequence[str], cache: str = CACHE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "KNEEBOT_CONTENT_CACHE": cache}
    return subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, check=True)


def timed(tree: Path, args: Sequence[str], cache: str) -> float:
    start = time.perf_counter()
    run(tree, args, cache)
    return time.perf_counter() - start


def instructions(tree: Path, args: Sequence[str], cache: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "KNEEBOT_CONTENT_CACHE": cache}
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args]
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", result.stderr)
    assert found, result.stderr
    return int(found[1])


def line(name: str, values: Sequence[float], unit: str = "s", scale: float = 1.0) -> str:
    low, mid, high = min(values) * scale, statistics.median(values) * scale, max(values) * scale
    return f"  {name:26} median {mid:7.3f} {unit}   range {low:.3f}-{high:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="2102ec8", help="the commit to compare with (default: before #speed)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind (slow)")
    parser.add_argument("--bytecode", action="store_true", help="compile both trees' modules first")
    args = parser.parse_args()
    archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        baseline = Path(folder) / args.baseline.replace("/", "_")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(baseline, filter="data")
        findings = Path(folder) / "findings.json"
        findings.write_text(json.dumps(FINDINGS))
        trees = {
            f"{args.baseline} (before)": (baseline, CACHE),
            "this tree, from the copy": (ROOT, CACHE),
            "this tree, no copy": (ROOT, "off"),
        }
        if args.bytecode:
            for tree in (baseline, ROOT):
                compileall.compile_dir(tree / "bot", quiet=1)
        commands = {"screen": ["-m", "bot", "screen", MESSAGE], "triage": ["-m", "bot", "triage", str(findings)]}
        for tree, cache in trees.values():  # the same answers from all; files read and copies made before timing
            assert run(tree, commands["screen"], cache).stdout == run(ROOT, commands["screen"], "off").stdout
        print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"command: {' '.join(sys.argv)}")
        print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, bytecode: {args.bytecode}")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        for _ in range(args.runs):
            for name, (tree, cache) in trees.items():
                wall, cpu = map(float, run(tree, ["-c", LOAD], cache).stdout.split())
                figures[name].setdefault("load_content, wall", []).append(wall)
                figures[name].setdefault("load_content, CPU", []).append(cpu)
                for command, argv in commands.items():
                    figures[name].setdefault(f"kneebot {command}, wall", []).append(timed(tree, argv, cache))
        print(f"load average at end: {os.getloadavg()[0]:.2f}; {args.runs} runs, the trees in turn")
        for name, measured in figures.items():
            print(name)
            for what, values in measured.items():
                print(line(what, values))
        if args.instructions and shutil.which("valgrind"):
            print("instructions of the whole process (callgrind), in billions")
            for name, (tree, cache) in trees.items():
                counts = {command: instructions(tree, argv, cache) / 1e9 for command, argv in commands.items()}
                print(f"  {name:26} " + "   ".join(f"{c}: {n:.2f}" for c, n in counts.items()))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
