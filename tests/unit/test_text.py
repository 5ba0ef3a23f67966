"""normalise remembers short answers, which many people send, and never keeps longer texts."""

from __future__ import annotations

from bot.triage import text
from bot.triage.text import SHORT_TEXT, normalise


def test_a_remembered_short_answer_reads_as_it_did_when_first_normalised() -> None:
    for answer in ("3", "No sé", "Yes!!", "cantt", "idk", "1,5", "w/o pain", "none of these", "x" * SHORT_TEXT):
        assert normalise(answer) == normalise(answer) == text._normalise(answer)
        assert text._normalise_short.cache_info().hits > 0


def test_a_longer_message_is_not_kept() -> None:
    before = text._normalise_short.cache_info().currsize
    for message in ("my calf is swollen and hot since the flight", "x" * (SHORT_TEXT + 1)):
        assert normalise(message) == text._normalise(message)
    assert text._normalise_short.cache_info().currsize == before
