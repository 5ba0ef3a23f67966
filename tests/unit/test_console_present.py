"""The staff console's words: every red flag and finding has staff-facing words in every locale, findings read as
sentences, times are the clinic's, and an id the catalog does not know yet is shown rather than dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.console.present import Words, case_view, findings, waited
from bot.content.loader import Content
from bot.storage.cases import Case
from bot.triage import rules
from bot.triage.findings import BOOLEAN_FINDINGS, Level

ZONE = ZoneInfo("America/New_York")
OPENED = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


def words(content: Content, locale: str = "en") -> Words:
    return Words(content.catalog, locale, ZONE)


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_red_flag_level_reason_and_finding_has_staff_words(content: Content, locale: str) -> None:
    keys = content.catalog.keys(locale)
    signs = {f.id for f in content.red_flags.flags} | {r.id for r in rules.RULES if r.red_flag}
    missing = sorted(f"staff.sign.{s}" for s in signs if f"staff.sign.{s}" not in keys)
    missing += sorted(f"staff.finding.{f}" for f in BOOLEAN_FINDINGS if f"staff.finding.{f}" not in keys)
    missing += sorted(f"staff.level.{lv.value}" for lv in Level if f"staff.level.{lv.value}" not in keys)
    interrupts = {f.interrupt for f in content.red_flags.flags}
    missing += sorted(
        f"staff.reason.{r}" for r in interrupts | {"human", "assessment"} if f"staff.reason.{r}" not in keys
    )
    assert missing == []


def test_findings_read_as_sentences_and_what_was_denied_as_one(content: Content) -> None:
    pairs = (
        ("age", "62"),
        ("onset", "sudden"),
        ("duration_days", "3.0"),
        ("pain_score", "7"),
        ("calf_swelling_one_side", "True"),
        ("short_of_breath", "True"),
        ("fever", "False"),
        ("chest_pain", "False"),
        ("sex", "female"),
    )
    said, denied = findings(pairs, words(content))
    assert said == (
        "Reported: one calf swollen and shortness of breath.",
        "Age 62.",
        "It came on suddenly.",
        "It has lasted 3 days.",
        "Pain 7 out of 10.",
        "Sex: female.",
    )
    assert denied == "Said no to: fever and chest pain."
    said_es, denied_es = findings(pairs, words(content, "es"))
    assert said_es[0] == "Refiere: una pantorrilla hinchada y falta de aire."
    assert denied_es == "Dijo que no a: fiebre y dolor en el pecho."


def test_an_id_the_catalog_does_not_know_is_shown_readably(content: Content) -> None:
    w = words(content)
    assert w.sign("short_of_breath") == "Short of breath"
    assert w.sign("a_new_sign_from_later") == "a new sign from later"
    assert findings((("new_finding", "True"), ("new_measure", "4")), w) == (
        ("Reported: new finding.", "new measure: 4."),
        None,
    )


def test_a_case_is_shown_in_the_clinics_time_with_how_long_it_has_waited(content: Content) -> None:
    case = Case(
        id="KABCDEF",
        level="emergency",
        reason="emergency",
        red_flags=("short_of_breath", "calf_clot_signs"),
        findings=(),
        channel="sms",
        opened_at=OPENED,
        status="acknowledged",
        pages=2,
        participant="sms-x",
        acknowledged_by="nurse@clinic.example",
        acknowledged_at=OPENED + timedelta(minutes=9),
    )
    view = case_view(case, words(content), OPENED + timedelta(hours=1, minutes=5))
    assert (view.opened, view.waiting) == ("2026-11-05 10:00", "1 h 5 min")
    assert view.signs == ("Short of breath", "One calf or leg swollen")
    assert (view.level_words, view.reason_words, view.status_words) == (
        "Emergency",
        "Emergency sign in a message",
        "Acknowledged",
    )
    assert view.acknowledged == "by nurse@clinic.example at 10:09"
    spanish = case_view(case, words(content, "es"), OPENED)
    assert (
        spanish.signs == ("Falta de aire", "Una pantorrilla o pierna hinchada") and spanish.status_words == "Recibido"
    )


@pytest.mark.parametrize(
    ("minutes", "text"), [(0, "0 min"), (59, "59 min"), (61, "1 h 1 min"), (60 * 26 + 5, "1 d 2 h"), (-3, "0 min")]
)
def test_waiting_times(minutes: int, text: str) -> None:
    assert waited(timedelta(minutes=minutes)) == text
