"""The COUNTRY command: "COUNTRY GB", "país México", "/country united kingdom" choose the country whose emergency
number the replies give. The command's words are data (answers.yaml `commands: country`). Pure."""

from __future__ import annotations

import re

from bot.triage.emergency import Regions
from bot.triage.language import Language
from bot.triage.matching import read_command
from bot.triage.reading import CommandWord
from bot.triage.text import PUNCTUATION, clean, split_words

COMMAND = "country"
MOST_WORDS = 3  # the command's own words before the country ("change my country")
CODE = re.compile(r"[a-z]{2}")


def country_command(text: str, language: Language, regions: Regions) -> tuple[str, str] | None:
    """("country", <ISO code>) when the message is the command's words and then a country, by its code or its name in
    any locale; None otherwise ("country walks hurt my knee" is no command)."""
    words = [w for w in split_words(clean(text)) if w not in PUNCTUATION and w != "/"]
    for split in range(1, min(len(words) - 1, MOST_WORDS) + 1):  # some words of the command, then the country
        rest = " ".join(words[split:])
        code = regions.find(rest)
        # Two letters after the command are meant as a code: one we don't know gets "I don't know that country".
        meant = code is not None or CODE.fullmatch(rest) is not None
        if meant and read_command(language, " ".join(words[:split])) == CommandWord(COMMAND):
            return COMMAND, code or rest
    return None
