"""The number everywhere: where no phone number gives the country (Telegram) the welcome says which emergency number
the bot will give, and COUNTRY changes it; a country outside the table gets 112, never another country's number."""

from __future__ import annotations

import dataclasses
import re

import pytest
from talk import Talk, keys

from bot.content.loader import Content
from bot.content.regions import PhoneRegions
from bot.triage.events import CommandReceived
from bot.triage.findings import Level
from tests.conftest import FixedClock

OTHER_NUMBERS = re.compile(r"\b(911|999|000|111|119|120|192|10177)\b")


def test_where_the_country_is_unknown_the_welcome_names_the_number_and_how_to_change_it(
    content: Content, clock: FixedClock
) -> None:
    talk = Talk(content, clock, country=None)
    turn = talk.send("hi")
    assert keys(turn)[:2] == ["welcome", "welcome.country"]
    assert "In an emergency I will tell you to call 911 (United States)." in talk.text(turn)
    assert "send COUNTRY" in talk.text(turn)
    spanish = Talk(content, clock, country=None, locale="es")
    assert "llame al 911 (Estados Unidos)" in spanish.text(spanish.send("hola"))


def test_where_the_phone_number_gives_the_country_or_the_clinic_gives_its_number_nothing_is_added(
    content: Content, clock: FixedClock
) -> None:
    assert "welcome.country" not in keys(Talk(content, clock, country="GB").send("hi"))
    clinic = Talk(content, clock, country=None, emergency_number="0800 123")
    assert "welcome.country" not in keys(clinic.send("hi"))


@pytest.mark.parametrize(
    ("said", "number", "name"),
    [
        ("COUNTRY GB", "999", "United Kingdom"),
        ("country uk", "999", "United Kingdom"),
        ("PAÍS MX", "911", "Mexico"),
        ("país México", "911", "Mexico"),
        ("/country united kingdom", "999", "United Kingdom"),
        ("change my country to Australia", None, None),
        ("country australia", "000", "Australia"),
    ],
)
def test_one_word_changes_the_country(
    content: Content, clock: FixedClock, said: str, number: str | None, name: str | None
) -> None:
    talk = Talk(content, clock, country=None)
    talk.send("hi")
    turn = talk.send(said)
    if number is None:  # not the command's words: read as an answer, and the country stays
        assert talk.session.country is None
        return
    assert talk.text(turn).startswith(f"Thank you. In an emergency I will tell you to call {number} ({name}).")
    assert turn.replies[-1].node == "emergency_signs"  # the question is asked again
    assert talk.text(talk.send("I can't breathe")).startswith(f"Call {number} now.")


def test_the_menu_command_and_unknown_countries(content: Content, clock: FixedClock) -> None:
    talk = Talk(content, clock, country=None)
    talk.send("hi")
    assert keys(talk.send(CommandReceived("country")))[0] == "country.ask"
    assert keys(talk.send("COUNTRY ZZ"))[0] == "country.unknown"
    assert keys(talk.send(CommandReceived("country", "Narnia")))[0] == "country.unknown"
    assert talk.session.country is None
    assert keys(talk.send("country walks hurt my knee"))[0] != "country.unknown"  # no country named: an answer


def test_names_come_from_phonenumbers_in_every_locale(content: Content) -> None:
    regions = PhoneRegions(content.catalog.locales)
    assert regions.name("DE", "en") == "Germany" and regions.name("DE", "es") == "Alemania"
    assert regions.find("alemania") == "DE" and regions.find("kenya") == "KE" and regions.find("uk") == "GB"
    assert regions.find("reino unido") == "GB" and regions.find("estados unidos") == "US"
    assert regions.find("narnia") is None


# --- outside the table: 112, never 911 ------------------------------------------------------------------------------

OUTSIDE = ["KE", "CH", "KR", "AE", "PH", "EG"]  # +254, +41, +82, +971, +63, +20: no row in flows/countries.yaml


@pytest.mark.parametrize("country", OUTSIDE)
def test_countries_outside_the_table_get_112_and_never_another_countrys_number(
    content: Content, clock: FixedClock, country: str
) -> None:
    assert country not in content.countries.countries
    said = []
    talk = Talk(content, clock, country=country)
    said.append(talk.text(talk.send("hi")))
    said.append(talk.text(talk.send("my calf is swollen on one side")))  # the clot message and its question
    said.append(talk.text(talk.send("no")))
    said.append(talk.text(talk.due()))  # its check-in
    said.append(talk.text(talk.send("not yet")))
    said.append(talk.text(talk.send("RESTART")))  # the sign asked about again
    said.append(talk.text(talk.send("yes")))
    for text in said:
        assert "112" in text, text
        assert not OTHER_NUMBERS.search(text), text
    assert talk.level is Level.urgent


@pytest.mark.parametrize("country", OUTSIDE)
def test_the_welcome_without_a_phone_number_gives_112_for_a_default_country_outside_the_table(
    content: Content, clock: FixedClock, country: str
) -> None:
    talk = Talk(content, clock, country=None)
    talk.policy = dataclasses.replace(talk.policy, default_country=country)
    text = talk.text(talk.send("hi"))
    assert "call 112 (from a mobile) or your local emergency number" in text and not OTHER_NUMBERS.search(text)
