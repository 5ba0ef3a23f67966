"""Whole conversations: every vignette, answered question by question, over both renderings, reaches its level."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from clinical import VIGNETTES, shared_examples

from bot.app.simulate import simulate
from bot.channels.render import MAX_SMS_SEGMENTS
from bot.channels.segments import segments
from bot.content.loader import Content
from bot.triage.findings import Findings
from tests.conftest import FixedClock


def run(content: Content, facts: dict[str, Any], channel: str, **kw: Any) -> dict[str, Any]:
    return asyncio.run(simulate(content, Findings.model_validate(facts), FixedClock(), channel=channel, **kw))


@pytest.mark.parametrize("case", VIGNETTES, ids=[c["id"] for c in VIGNETTES])
def test_vignette_as_a_conversation_gives_the_same_level_on_sms_and_telegram(
    content: Content, case: dict[str, Any]
) -> None:
    sms, telegram = (run(content, case["facts"], channel) for channel in ("sms", "telegram"))
    assert sms["outcome"] is not None and telegram["outcome"] is not None
    assert sms["outcome"]["level"] == telegram["outcome"]["level"] == case["expected_level"]
    assert sms["questions_asked"] == telegram["questions_asked"] <= 16
    for turn in sms["turns"]:
        if turn["from"] == "bot":
            assert all(segments(part) <= MAX_SMS_SEGMENTS for part in turn["text"].split("\n\n")), turn["key"]


def test_shared_calibration_cases_as_conversations(content: Content) -> None:
    wrong = []
    for case in shared_examples():
        levels = {run(content, case["facts"], ch)["outcome"]["level"] for ch in ("sms", "telegram")}
        if levels != {case["expected_level"]}:
            wrong.append(f"{case['id']}: expected {case['expected_level']}, got {levels}")
    assert wrong == []


def test_say_replaces_answers_from_the_second_question_on(content: Content) -> None:
    result = run(content, {}, "sms", say=("no", "my calf is swollen and I'm out of breath"))
    user = [t["text"] for t in result["turns"] if t["from"] == "user"]
    assert user[:3] == ["6", "no", "my calf is swollen and I'm out of breath"]
    assert result["interrupt"] == "emergency"
    assert result["outcome"] is None


def test_spanish_conversation(content: Content) -> None:
    result = run(content, {"cold_pale_foot": True}, "telegram", locale="es")
    assert result["outcome"]["level"] == "emergency"
    assert result["turns"][-1]["text"].startswith("Llame al 911 ahora.")
