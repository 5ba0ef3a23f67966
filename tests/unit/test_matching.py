"""Free text to answers and commands: one matcher for every channel."""

from __future__ import annotations

import pytest

from bot.content.loader import Content
from bot.triage.matching import match_answer, parse_command, parse_days


@pytest.mark.parametrize(
    ("node", "text", "expected"),
    [
        ("calf", "1", "swollen"),
        ("calf", "y", "swollen"),
        ("calf", "Yes!", "swollen"),
        ("calf", "sí", "swollen"),
        ("walk", "si", "yes"),
        ("walk", "yes", "yes"),
        ("calf", "nope", "no"),
        ("calf", "3", "tender"),
        ("calf", "4", "no"),
        ("calf", "not sure", "unsure"),
        ("calf", "no sé", "unsure"),
        ("calf", "NO SE", "unsure"),
        ("calf", "6", None),
        ("calf", "0", None),
        ("emergency_signs", "none of these", "none"),
        ("emergency_signs", "no", "none"),
        ("emergency_signs", "ninguna", "none"),
        ("emergency_signs", "yes", None),
        ("emergency_signs", "coughing up blood", "blood"),
        ("mechanical", "it gives way", "gives_way"),
        ("start_how", "gradually", "gradual"),
        ("pain", "7", "7"),
        ("pain", "about a 6 out of 10", "6"),
        ("pain", "11", None),
        ("pain", "7.5", None),
        ("age", "I'm 45", "45"),
        ("age", "not sure", "unsure"),
        ("duration", "3 days", "3"),
        ("duration", "2 weeks", "14"),
        ("duration", "12 hours", "0.5"),
        ("duration", "dos semanas", "14"),
        ("duration", "since yesterday", "1"),
        ("duration", "3 días", "3"),
        ("duration", "forever", None),
    ],
)
def test_free_text_matches_the_right_answer(content: Content, node: str, text: str, expected: str | None) -> None:
    assert match_answer(content.intake, node, text, content.catalog.labels("en")) == expected


def test_spanish_labels_match_in_a_spanish_session(content: Content) -> None:
    label = content.catalog.raw("intake.start_how.gradual", "es")
    assert match_answer(content.intake, "start_how", label, content.catalog.labels("es")) == "gradual"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", ("stop", "")),
        ("unsubscribe", ("stop", "")),
        ("/stop", ("stop", "")),
        ("Parar", ("stop", "")),
        ("START", ("start", "")),
        ("restart", ("restart", "")),
        ("reiniciar", ("restart", "")),
        ("back", ("back", "")),
        ("atrás", ("back", "")),
        ("help", ("help", "")),
        ("AYUDA", ("help", "")),
        ("/language es", ("language", "es")),
        ("español", ("language", "es")),
        ("english", ("language", "en")),
        ("delete", ("delete", "")),
        ("borrar", ("delete", "")),
        ("please stop asking me about my back", None),
        ("no", None),
        ("hello", None),
    ],
)
def test_command_words(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_command(text) == expected


def test_durations_in_days() -> None:
    assert parse_days("half a day") == 0.5
    assert parse_days("30 min") == pytest.approx(30 / 1440)
    assert parse_days("1 month") == 30
