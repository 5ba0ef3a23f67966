"""Countries by name in every locale, from phonenumbers' data: for the welcome ("call 911 (United States)") and the
COUNTRY command ("COUNTRY México"). The geocoder's data takes half a second to load, once a process: the conversation
service loads it when it is made (never on a person's message), and the one-shot commands (triage, screen) never do."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import phonenumbers

from bot.triage.emergency import RESERVED_CODES
from bot.triage.text import clean, split_words


class PhoneRegions:
    """Every region phonenumbers knows (ISO 3166-1 alpha-2), named in `locales` (English where a locale has none)."""

    def __init__(self, locales: Iterable[str]) -> None:
        self.locales = tuple(sorted(locales))

    def load(self) -> PhoneRegions:
        _table(self.locales)
        return self

    def name(self, code: str, locale: str) -> str | None:
        return _table(self.locales)[0].get(code.upper(), {}).get(locale)

    def find(self, said: str) -> str | None:
        code = RESERVED_CODES.get(said.upper(), said.upper())
        if code in phonenumbers.SUPPORTED_REGIONS:
            return code
        return _table(self.locales)[1].get(said)


@functools.cache
def _table(locales: tuple[str, ...]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """(code -> locale -> name, a name as a message is read (lowercase, no accents) -> code)."""
    from phonenumbers import geocoder  # half a second of data, loaded only where names are needed

    names: dict[str, dict[str, str]] = {}
    for code in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(code)
        if example is None:
            continue
        english = geocoder.country_name_for_number(example, "en")
        named = {loc: geocoder.country_name_for_number(example, loc) or english for loc in locales}
        names[code] = {loc: name for loc, name in named.items() if name}
    codes = {" ".join(split_words(clean(n))): code for code, ns in names.items() for n in ns.values()}
    return names, codes
