"""Text is cleaned the same way for every language before any word is read: invisible characters, accents, case,
apostrophes, long letter runs, the Spanish decimal comma and opening question mark."""

from __future__ import annotations

import pytest

from bot.triage.text import clean, split_words


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("bre\u200bath\u00adless", ["breathless"]),
        ("Can\u2019t BREATHE", ["can't", "breathe"]),
        ("sooooo swolen!!!", ["soo", "swolen", "!", "!", "!"]),
        ("¿Tengo fiebre? 38,5", [".", "tengo", "fiebre", "?", "38.5"]),
        ("pierna hinchada 😭", ["pierna", "hinchada"]),
        ("w/o pain & no fever", ["w/o", "pain", "&", "no", "fever"]),
        ("7/10", ["7", "/", "10"]),
    ],
)
def test_clean_then_split(typed: str, words: list[str]) -> None:
    assert split_words(clean(typed)) == words
