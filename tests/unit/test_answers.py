"""The suite of free-text answers (tests/data/answers.yaml): every question of both flows, in English, Spanish and
both at once, typed the way people write. Prints the accuracy per question and language; every answer must read
as its line says."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content.loader import Content
from bot.triage.matching import read_answer
from bot.triage.reading import Answered, CommandWord, Help, Reading, Several, Unclear, WhichOne

SUITE = Path(__file__).resolve().parent.parent / "data" / "answers.yaml"
NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def expected(item: dict[str, Any]) -> Reading:
    means = item["means"]
    if means == "which_one":
        return WhichOne()
    if means == "help":
        return Help()
    if isinstance(means, dict):
        if "several" in means:
            return Several(tuple(means["several"]))
        if "command" in means:
            name, _, argument = str(means["command"]).partition(":")
            return CommandWord(name, argument)
        reason = means["unclear"]
        return Unclear(reason, "")  # the key is checked by test_matching; here only the reason
    if isinstance(means, list):
        return Answered(tuple(means))
    if isinstance(means, bool | int | float):
        return Answered((f"{means:g}",))
    return Answered((str(means),), named=tuple(item.get("keeps", ())))


def reads_as(reading: Reading, wanted: Reading) -> bool:
    if isinstance(reading, Unclear) and isinstance(wanted, Unclear):
        return reading.reason == wanted.reason
    return reading == wanted


def test_the_suite_is_large_and_covers_every_question_in_both_languages(content: Content) -> None:
    items = yaml.safe_load(SUITE.read_text(encoding="utf-8"))
    assert len(items) >= 300
    assert sum(item["lang"] in ("es", "mix") for item in items) >= 100
    questions = {
        f"{f.id}.{n}" for f in content.flows.values() for n, node in f.nodes.items() if node.kind != "assessment"
    }
    for lang in ("en", "es"):
        covered = {item["at"] for item in items if item["lang"] in (lang, "mix")}
        assert questions <= covered, f"{lang}: no answers for {sorted(questions - covered)}"


def test_every_answer_in_the_suite_reads_as_meant(content: Content, capsys: pytest.CaptureFixture[str]) -> None:
    items = yaml.safe_load(SUITE.read_text(encoding="utf-8"))
    right: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    for item in items:
        flow_id, node = item["at"].split(".")
        reading = read_answer(content.language, content.flows[flow_id], node, item["say"], NOW)
        lang = "es" if item["lang"] == "mix" else item["lang"]
        total[item["at"], lang] += 1
        if reads_as(reading, expected(item)):
            right[item["at"], lang] += 1
        else:
            wrong.append(f"{item['at']} {item['say']!r}: {reading} (meant {item['means']})")
    with capsys.disabled():
        print(f"\nanswers suite: {sum(right.values())}/{sum(total.values())} read as meant")
        print(f"{'question':28} {'en':>9} {'es+mix':>9}")
        for at in sorted({at for at, _ in total}):
            cells = [f"{right[at, lang]}/{total[at, lang]}" if total[at, lang] else "-" for lang in ("en", "es")]
            print(f"{at:28} {cells[0]:>9} {cells[1]:>9}")
        for lang in ("en", "es"):
            n = sum(v for (_, lg), v in total.items() if lg == lang)
            ok = sum(v for (_, lg), v in right.items() if lg == lang)
            print(f"{'all ' + lang:28} {ok}/{n} ({100 * ok / n:.1f}%)")
    assert wrong == [], "\n".join(wrong)
