"""The red-flag screen on the project's phrase suite as worried people type it: each message perturbed one way at a
time (seeded, so every run sees the same texts), per kind of perturbation:
- recall: emergency, crisis and urgent messages still caught (an interrupt at the expected level or above, or a
  "confirm" question);
- calm: `expected: none` messages still left alone (no interrupt, no question).

Kinds: one typo in a word of four letters or more, away from its first letter (an adjacent key on a phone's QWERTY
keyboard instead of the letter, a letter dropped, an adjacent key inserted, two letters swapped); the first letter
replaced by an adjacent key; a letter stretched ("breatheeee"); zero-width spaces and soft hyphens inside words; the
whole message in capitals; accents stripped; accents added. `--variants` texts per message and kind, each with its
own seed. `--root` screens with another tree's code and vocabulary (the same messages, from this tree);
`--baseline REF` runs the same on a commit of this repository (`git archive`) first, for a table before and after.
Run: .venv/bin/python bench/typo_robustness.py [--variants 3] [--baseline main]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "data" / "phrases.yaml"
RANK = {"confirm": 1, "urgent": 1, "emergency": 2, "crisis": 2}
ALARMS = ("emergency", "crisis", "urgent")
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    """Each letter's neighbours on a QWERTY keyboard: left and right, and the keys touching it above and below."""
    near: dict[str, set[str]] = {}
    for r, row in enumerate(ROWS):
        for c, key in enumerate(row):
            around = near.setdefault(key, set())
            around.update(row[i] for i in (c - 1, c + 1) if 0 <= i < len(row))
            for other in (r - 1, r + 1):
                if 0 <= other < len(ROWS):
                    # Rows are staggered by half a key: the keys at c-1..c and c..c+1 touch.
                    shift = (-1, 0) if other < r else (0, 1)
                    around.update(
                        ROWS[other][i] for i in range(c + shift[0], c + shift[1] + 1) if 0 <= i < len(ROWS[other])
                    )
    return {k: "".join(sorted(v)) for k, v in near.items()}


NEIGHBOURS = _neighbours()
ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ú", "n": "ñ"}


def _words(text: str, least: int) -> list[tuple[int, int]]:
    """(start, end) of each run of ASCII letters at least `least` long."""
    spans, start = [], None
    for i, ch in enumerate(text + " "):
        if ch.isascii() and ch.isalpha():
            start = i if start is None else start
        elif start is not None:
            if i - start >= least:
                spans.append((start, i))
            start = None
    return spans


def _in_word(least: int, change: Callable[[random.Random, str], str]) -> Callable[[random.Random, str], str]:
    def perturb(rng: random.Random, text: str) -> str:
        spans = _words(text, least)
        if not spans:
            return text
        a, b = rng.choice(spans)
        return text[:a] + change(rng, text[a:b]) + text[b:]

    return perturb


def _neighbour(rng: random.Random, ch: str) -> str:
    near = NEIGHBOURS.get(ch.lower())
    if not near:
        return ch
    new = rng.choice(near)
    return new.upper() if ch.isupper() else new


def _substitute(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + _neighbour(rng, word[i]) + word[i + 1 :]


def _delete(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1 :]


def _insert(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + _neighbour(rng, word[rng.choice((i - 1, i))]) + word[i:]


def _transpose(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _first(rng: random.Random, word: str) -> str:
    return _neighbour(rng, word[0]) + word[1:]


def _stretch(rng: random.Random, word: str) -> str:
    i = len(word) - 1 if rng.random() < 0.5 else rng.randrange(len(word))
    return word[: i + 1] + word[i] * rng.randint(2, 5) + word[i + 1 :]


def _invisible(rng: random.Random, text: str) -> str:
    spans = _words(text, 4)
    for a, b in sorted(rng.sample(spans, min(2, len(spans))), reverse=True):
        i = rng.randrange(a + 1, b)
        text = text[:i] + rng.choice(("\u200b", "\u00ad", "\u200d")) + text[i:]
    return text


def _strip(rng: random.Random, text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _accent(rng: random.Random, text: str) -> str:
    chars = list(text)
    spots = [i for i, c in enumerate(chars) if c in ACCENTED]
    for i in rng.sample(spots, min(2, len(spots))):
        chars[i] = ACCENTED[chars[i]]
    return "".join(chars)


KINDS: dict[str, Callable[[random.Random, str], str]] = {
    "as written": lambda rng, text: text,
    "typo: adjacent key": _in_word(4, _substitute),
    "typo: letter dropped": _in_word(4, _delete),
    "typo: key inserted": _in_word(4, _insert),
    "typo: letters swapped": _in_word(4, _transpose),
    "first letter: adjacent key": _in_word(5, _first),
    "stretched letters": _in_word(3, _stretch),
    "invisible characters": _invisible,
    "all caps": lambda rng, text: text.upper(),
    "accents stripped": _strip,
    "accents added": _accent,
}


def perturbed(cases: list[dict[str, Any]], variants: int) -> dict[str, list[tuple[dict[str, Any], str]]]:
    texts: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for kind, perturb in KINDS.items():
        rows = texts.setdefault(kind, [])
        for case in cases:
            for n in range(1 if kind == "as written" else variants):
                rng = random.Random(zlib.crc32(f"{case['id']}|{kind}|{n}".encode()))
                rows.append((case, perturb(rng, case["text"])))
    return texts


def measure(root: Path, variants: int) -> dict[str, dict[str, list[int]]]:
    """Per kind: recall [caught, of] and calm [left alone, of], screened with the code and vocabulary at `root`."""
    sys.path.insert(0, str(root))
    import bot
    from bot.content.loader import load_content

    print(f"screening with {Path(bot.__file__).parent}", file=sys.stderr)
    language = load_content(root).language
    cases = yaml.safe_load(SUITE.read_text(encoding="utf-8"))["messages"]
    figures: dict[str, dict[str, list[int]]] = {}
    for kind, rows in perturbed(cases, variants).items():
        row = figures.setdefault(kind, {"recall": [0, 0], "calm": [0, 0]})
        for case, text in rows:
            got = language.screen(text).interrupt
            if case["expected"] in ALARMS:
                row["recall"][1] += 1
                row["recall"][0] += got is not None and RANK[got] >= min(RANK[case["expected"]], RANK["confirm"])
            elif case["expected"] == "none":
                row["calm"][1] += 1
                row["calm"][0] += got is None
    return figures


def other_tree(ref: str, variants: int) -> dict[str, dict[str, list[int]]]:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        out = subprocess.run(
            [sys.executable, __file__, "--root", folder, "--variants", str(variants), "--json"],
            cwd=folder,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures: dict[str, dict[str, list[int]]] = json.loads(out)
    return figures


def _pct(pair: list[int]) -> str:
    return f"{100 * pair[0] / pair[1]:5.1f}% ({pair[0]}/{pair[1]})" if pair[1] else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--baseline", help="a commit to measure first, from git archive")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    after = measure(args.root.resolve(), args.variants)
    if args.json:
        print(json.dumps(after))
        return
    before = other_tree(args.baseline, args.variants) if args.baseline else None
    print(f"messages: {SUITE.relative_to(ROOT)}, {args.variants} variants per message and kind (seeded)")
    head = "| kind | recall (emergency, crisis, urgent) | calm left alone |"
    if before:
        head = f"| kind | recall before ({args.baseline}) | recall after | calm before | calm after |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for kind, row in after.items():
        if before:
            b = before[kind]
            print(f"| {kind} | {_pct(b['recall'])} | {_pct(row['recall'])} | {_pct(b['calm'])} | {_pct(row['calm'])} |")
        else:
            print(f"| {kind} | {_pct(row['recall'])} | {_pct(row['calm'])} |")


if __name__ == "__main__":
    main()
