"""Emergency numbers and crisis lines by country (flows/countries.yaml): the table, the fallback where a country has
no row, and every message that names the number, in both languages."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.content.catalog import placeholders
from bot.content.loader import ROOT, Content, ContentError, load_content
from bot.triage.effects import Text
from bot.triage.emergency import FALLBACK_DIAL, UNKNOWN_NUMBER, CountryTable
from bot.triage.engine import Policy, advance, new_session
from bot.triage.events import MessageReceived

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
EU = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
      "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")  # fmt: skip
# REFERENCE.md "Emergency numbers", and every country the Python table had before it became data.
REQUIRED = ("US", "CA", "MX", "GB", "AU", "NZ", "JP", "IN", "BR", "ZA", "CN", "AR", "CL", "CO", "PE", "VE", "EC", "UY",
            "PY", "BO", "CR", "PA", "GT", "HN", "SV", "NI", "DO", "PR", "CU", *EU)  # fmt: skip
OUTSIDE = ("CH", "KR", "KE", "AE", "XX")  # +41, +82, +254, +971 and a code no one has: no row in the table
# Words an English number message would bring into a Spanish reply.
ENGLISH = {
    "call",
    "text",
    "or",
    "and",
    "from",
    "mobile",
    "your",
    "emergency",
    "number",
    "now",
    "option",
}  # "local" is both


@pytest.fixture(scope="module")
def table(content: Content) -> CountryTable:
    return content.countries


def number_keys(content: Content) -> list[str]:
    return sorted(k for k in content.catalog.keys("en") if "number" in placeholders(content.catalog.raw(k, "en")))


@pytest.mark.parametrize(
    ("country", "number"),
    [("US", "911"), ("CA", "911"), ("MX", "911"), ("GB", "999"), ("ES", "112"), ("PL", "112"), ("SE", "112"),
     ("AU", "000"), ("NZ", "111"), ("JP", "119"), ("IN", "112"), ("BR", "192"), ("ZA", "10177"), ("CN", "120"),
     ("CO", "123"), ("PE", "106"), ("FR", "112")],
)  # fmt: skip
def test_the_countries_in_reference_get_their_number(table: CountryTable, country: str, number: str) -> None:
    found = table.emergency(country, "US")
    assert found.known and found.dial == number and found.param == number


def test_country_codes_are_read_in_any_case(table: CountryTable) -> None:
    assert table.emergency("gb", "US").dial == "999"
    assert table.emergency(" es ", "US").dial == "112"


@pytest.mark.parametrize("country", OUTSIDE)
def test_a_country_without_a_row_gets_112_and_the_local_number_never_911(table: CountryTable, country: str) -> None:
    for default in ("US", "GB", "AU"):
        found = table.emergency(country, default)
        assert found.dial == FALLBACK_DIAL and not found.known
        assert found.param == (UNKNOWN_NUMBER,)
        assert table.crisis(country, default) is None


def test_no_country_known_means_the_deployments_country(table: CountryTable) -> None:
    assert table.emergency(None, "GB").dial == "999"
    assert table.emergency("", "au").dial == "000"
    assert table.emergency(None, "CH").param == (UNKNOWN_NUMBER,)
    assert table.crisis(None, "NZ") == table.crisis("NZ", "US")


def test_a_clinics_own_number_overrides_every_country(table: CountryTable) -> None:
    policy = Policy(countries=table, emergency_number="144")
    assert [policy.emergency(c).param for c in ("US", "CH", None)] == ["144", "144", "144"]
    assert Policy(countries=table).emergency_number is None


def test_an_empty_table_gives_the_fallback_everywhere() -> None:
    assert Policy().emergency("US").param == (UNKNOWN_NUMBER,)


def test_the_table_covers_reference_and_every_row_cites_a_source(table: CountryTable) -> None:
    assert set(REQUIRED) <= table.countries.keys()
    assert all(table.countries[code].emergency == "112" for code in EU)
    for code, row in table.countries.items():
        assert re.fullmatch(r"[A-Z]{2}", code)
        assert len(row.source.strip()) > 5, code
        assert row.crisis is None or len(row.crisis.source.strip()) > 5, code


@pytest.mark.parametrize(
    ("country", "number", "how"),
    [("US", "988", "call_or_text"), ("CA", "988", "call_or_text"), ("GB", "116 123", "call"),
     ("IE", "116 123", "call"), ("AU", "13 11 14", "call"), ("NZ", "1737", "call_or_text"), ("ES", "024", "call"),
     ("FR", "3114", "call")],
)  # fmt: skip
def test_crisis_lines_follow_reference(table: CountryTable, country: str, number: str, how: str) -> None:
    line = table.crisis(country, "US")
    assert line is not None and (line.number, line.how) == (number, how)


def test_a_bad_row_stops_start_up(tmp_path: Path) -> None:
    for name in ("flows", "locales"):
        shutil.copytree(ROOT / name, tmp_path / name)
    path = tmp_path / "flows" / "countries.yaml"
    path.write_text(path.read_text().replace('source: "CRTC: 9-1-1"', 'source: ""'))
    with pytest.raises(ContentError, match="countries.yaml"):
        load_content(tmp_path)
    path.write_text(path.read_text().replace("how: call_or_text", "how: whatsapp", 1))
    with pytest.raises(ContentError, match="countries.yaml"):
        load_content(tmp_path)


def test_the_country_table_is_not_read_as_a_flow(content: Content) -> None:
    assert set(content.flows) == {"intake", "checkin"}


# --- the wording of every message that names the number ---------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_number_message_reads_right_outside_the_table(content: Content, locale: str) -> None:
    keys = number_keys(content)
    assert len(keys) >= 15
    param = content.countries.emergency("KE", "US").param
    local = {"en": "or your local emergency number", "es": "o al número de emergencias local"}[locale]
    for key in keys:
        params = tuple(
            (name, param if name == "number" else "x") for name in placeholders(content.catalog.raw(key, "en"))
        )
        text = content.catalog.render(Text(key, params), locale)
        assert "112" in text and local in text, key
        assert not re.search(r"\b(911|999|988|000)\b", text), key
        if locale == "es":
            assert "al 112" in text, key  # "llame al 112 (desde un móvil) o al número de emergencias local"
            assert not ENGLISH & set(re.findall(r"\w+", text.lower())), key


def chat_reply(content: Content, text: str, country: str, locale: str) -> tuple[str, str | None]:
    session = new_session(content.intake, NOW, locale, country).model_copy(update={"disclaimer_shown": True})
    policy = Policy(countries=content.countries)
    turn = advance(content.intake, session, MessageReceived(text), NOW, policy=policy, language=content.language)
    reply = turn.replies[0]
    return "\n".join(content.catalog.render(p, locale) for p in reply.parts), reply.call


@pytest.mark.parametrize("country", OUTSIDE)
def test_an_emergency_outside_the_table_says_112_and_offers_112(content: Content, country: str) -> None:
    text, call = chat_reply(content, "I can't breathe", country, "en")
    assert text.startswith("Call 112 (from a mobile) or your local emergency number now.")
    assert call == "112" and "911" not in text
    text, call = chat_reply(content, "no puedo respirar", country, "es")
    assert text.startswith("Llame al 112 (desde un móvil) o al número de emergencias local ahora.")
    assert call == "112"


@pytest.mark.parametrize(
    ("country", "english", "spanish"),
    [
        ("US", "call or text 988", "llamar o enviar un mensaje de texto al 988"),
        ("GB", "call 116 123", "llamar al 116 123"),
        ("AU", "call 13 11 14", "llamar al 13 11 14"),
        ("NZ", "call or text 1737", "llamar o enviar un mensaje de texto al 1737"),
        ("ES", "call 024", "llamar al 024"),
        ("PE", "call 113 and choose option 5", "llamar al 113 y elegir la opción 5"),
    ],
)
def test_crisis_replies_say_call_or_text_only_where_the_line_takes_texts(
    content: Content, country: str, english: str, spanish: str
) -> None:
    text, _ = chat_reply(content, "I want to kill myself", country, "en")
    assert english in text
    assert ("text" in english) is ("call or text" in text)
    text, _ = chat_reply(content, "quiero matarme", country, "es")
    assert spanish in text
    assert ("text" in english) is ("mensaje de texto" in text)
    assert not ENGLISH & set(re.findall(r"\w+", text.lower())), text


def test_a_crisis_where_no_line_is_known_gives_the_emergency_number(content: Content) -> None:
    for country, number in (("IT", "112"), ("JP", "119"), ("KE", "112")):
        text, call = chat_reply(content, "I want to kill myself", country, "en")
        assert f"call {number}" in text and call == number
        assert "You can also call" not in text
