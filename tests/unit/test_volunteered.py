"""Findings said without being asked (locales/<lang>/vocabulary/findings.yaml, read by bot.triage.volunteered): what a
message states, and what it does not (denied, past, supposed, asked about, someone else's)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.content.loader import Content
from bot.triage.volunteered import said_in

NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday

STATED = [
    ("the example of the issue", "I'm 32 weeks pregnant", {"hormone_therapy_or_pregnancy": True}),
    ("an age", "I'm 34", {"age": 34}),
    ("an age after a number that is not one", "2 kids, I'm 34", {"age": 34}),
    ("an age in words", "im thirty four", {"age": 34}),
    ("an age with years old", "I'm a 45 year old man", {"age": 45}),
    ("an age by the way", "I'm 52 by the way", {"age": 52}),
    ("a child's age", "my son is 9 and he fell at football", {"age": 9}),
    ("a toddler's age in months", "my daughter is 18 months", {"age": 1}),
    ("an injury and when", "fell off my bike yesterday", {"trauma": True, "duration_days": 1}),
    ("a twist at sport", "I twisted my knee playing football", {"trauma": True}),
    ("a knock", "bumped the back of my knee on the car door", {"trauma": True}),
    ("how long, beside the pain", "been hurting for about 2 weeks", {"duration_days": 14}),
    ("how long ago it started", "started 3 days ago", {"duration_days": 3}),
    ("a pain score", "pain is about 7/10", {"pain_score": 7}),
    ("a pain score in words", "it's a 6 out of 10", {"pain_score": 6}),
    ("two risk factors", "I'm on the pill and just got back from a 10 hour flight",
     {"hormone_therapy_or_pregnancy": True, "long_travel_over_4h": True}),
    ("a clot long ago is still a risk factor", "I had a clot 10 years ago", {"prior_clot": True}),
    ("locking and giving way", "my knee locks and gives way", {"locking": True, "giving_way": True}),
    ("no weight", "i cant put any weight on it", {"cannot_bear_weight": True}),
    ("arthritis", "I have arthritis in my knee", {"known_osteoarthritis": True}),
    ("the knee swollen", "my knee is swollen", {"swelling": True}),
    ("a slow start, a long time, arthritis, an age",
     "my knee hurts, it started gradually, getting worse, I'm 67 and have arthritis",
     {"onset": "gradual", "getting_worse_or_not_improving": True, "known_osteoarthritis": True, "age": 67}),
    ("edad", "tengo 34 años", {"age": 34}),
    ("edad en palabras", "tengo treinta y cuatro años", {"age": 34}),
    ("caída", "me caí de la bici ayer", {"trauma": True, "duration_days": 1}),
    ("embarazo", "estoy embarazada de 20 semanas", {"hormone_therapy_or_pregnancy": True}),
    ("cuánto hace", "me duele desde hace 3 días", {"duration_days": 3}),
    ("anticonceptivos y un vuelo largo", "tomo anticonceptivos y tuve un vuelo de 12 horas",
     {"hormone_therapy_or_pregnancy": True, "long_travel_over_4h": True}),
    ("dolor de 8 sobre 10", "el dolor es 8 de 10", {"pain_score": 8}),
    ("se traba y falla", "se me traba la rodilla y se me dobla", {"locking": True, "giving_way": True}),
]  # fmt: skip

NOT_STATED = [
    ("someone else's clot", "my sister had a clot"),
    ("someone else's pill", "my wife is on the pill"),
    ("a denial", "no swelling"),
    ("a denied fall", "I didn't fall"),
    ("a supposition", "what if I'm pregnant?"),
    ("a fall long ago", "I fell 10 years ago"),
    ("not an age: weeks pregnant", "I'm 5 weeks"),
    ("not an age: a height", "I'm 6 foot tall"),
    ("no tomo nada", "no tomo anticonceptivos"),
    ("la hermana", "mi hermana tuvo un coágulo"),
    ("a worry about the future", "I'm worried about getting a clot on my flight next week"),
]


@pytest.mark.parametrize(("description", "text", "expected"), STATED, ids=[d for d, _, _ in STATED])
def test_what_a_message_states(content: Content, description: str, text: str, expected: dict[str, object]) -> None:
    assert dict(said_in(content.language, content.intake, text, NOW).findings) == expected, description


@pytest.mark.parametrize(("description", "text"), NOT_STATED, ids=[d for d, _ in NOT_STATED])
def test_what_a_message_does_not_state(content: Content, description: str, text: str) -> None:
    said = said_in(content.language, content.intake, text, NOW)
    assert not any(value is True for value in said.findings.values()), description
    assert "duration_days" not in said.findings and "age" not in said.findings, description


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("I was in a cast for 6 weeks", "recent_surgery_or_immobilisation"),
        ("had a baby 3 weeks ago", "hormone_therapy_or_pregnancy"),
    ],
)
def test_how_long_something_else_lasted_is_not_how_long_it_hurts(content: Content, text: str, finding: str) -> None:
    said = said_in(content.language, content.intake, text, NOW)
    assert said.findings == {finding: True}


def test_a_denial_is_reported_so_what_was_said_before_can_be_taken_back(content: Content) -> None:
    said = said_in(content.language, content.intake, "I'm not on the pill any more", NOW)
    assert "hormone_therapy_or_pregnancy" in said.denied and not said.findings
