"""Emergency numbers and crisis lines by country."""

from __future__ import annotations

import re

import pytest

from bot.triage.emergency import COUNTRIES, crisis_line, emergency_number

# fmt: off
REQUIRED = ("US", "CA", "MX", "GB", "IE", "ES", "FR", "DE", "IT", "PT", "NL", "AR", "CL", "CO", "PE", "VE", "EC", "UY",
            "PY", "BO", "CR", "PA", "GT", "HN", "SV", "NI", "DO", "PR", "CU", "AU", "NZ", "IN", "ZA", "BR", "JP")
# fmt: on


@pytest.mark.parametrize(
    ("country", "number"),
    [
        ("US", "911"),
        ("GB", "999"),
        ("ES", "112"),
        ("AU", "000"),
        ("NZ", "111"),
        ("MX", "911"),
        ("CA", "911"),
        ("CO", "123"),
        ("BR", "192"),
        ("JP", "119"),
        ("FR", "112"),
        ("PE", "106"),
    ],
)
def test_emergency_number(country: str, number: str) -> None:
    assert emergency_number(country) == number


def test_country_code_is_case_insensitive() -> None:
    assert emergency_number("gb") == "999"
    assert emergency_number(" es ") == "112"
    assert crisis_line("us") == "988 (call or text)"


def test_unknown_country_gets_the_default_countrys_number() -> None:
    assert emergency_number("XX") == "911"
    assert emergency_number(None) == "911"
    assert emergency_number("XX", default_country="GB") == "999"
    assert emergency_number(None, default_country="au") == "000"
    assert emergency_number("XX", default_country="ZZ") == "911"


def test_crisis_lines() -> None:
    assert crisis_line("US") == "988 (call or text)"
    assert crisis_line("CA") == "988 (call or text)"
    assert crisis_line("GB") == "116 123 (Samaritans)"
    assert crisis_line("ES") == "024"
    assert crisis_line("IT") is None
    assert crisis_line("XX", default_country="NZ") == "1737 (call or text)"


def test_table_covers_the_required_countries_and_cites_sources() -> None:
    assert set(REQUIRED) <= COUNTRIES.keys()
    for code, row in COUNTRIES.items():
        assert re.fullmatch(r"[A-Z]{2}", code)
        assert re.fullmatch(r"[0-9*][0-9 *]*", row.emergency), code
        assert row.source.strip(), code
        assert row.crisis is None or row.crisis.strip(), code
