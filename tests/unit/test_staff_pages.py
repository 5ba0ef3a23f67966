"""What staff read on a page and a card (plain words, the clinic's time, which page and how long the case waited),
and who each page goes to: every on-call number its pages in turn, then no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.content.loader import Content
from bot.shell.staff import Paged, StaffTargets, card, last_notice, sms_page
from bot.shell.wording import Words
from bot.storage.cases import Case
from bot.storage.checkins import Address

OPENED = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)  # 10:00 in New York
FIRST, SECOND = Address(channel="sms", to="+15550000001"), Address(channel="sms", to="+15550000002")
CHAT = Address(channel="telegram", to="-100")


@pytest.mark.parametrize(
    ("oncall", "per_contact", "expected"),
    [
        ((FIRST, SECOND), 2, [FIRST, FIRST, SECOND, SECOND]),
        ((FIRST, SECOND), 1, [FIRST, SECOND]),
        ((FIRST,), 3, [FIRST, FIRST, FIRST]),
        ((), 2, [None, None]),  # the staff chat alone: its pages, then the end
    ],
)
def test_each_number_gets_its_pages_in_turn_then_none(
    oncall: tuple[Address, ...], per_contact: int, expected: list[Address | None]
) -> None:
    targets = StaffTargets(CHAT, oncall, per_contact)
    assert targets.pages == len(expected)
    assert [targets.oncall_for_page(page) for page in range(1, targets.pages + 1)] == expected
    assert targets.oncall_for_page(targets.pages + 1) is None and targets.oncall_for_page(0) is None


def test_who_answered_and_whether_a_number_is_on_call() -> None:
    targets = StaffTargets(CHAT, (FIRST, SECOND))
    assert targets.who("sms", SECOND.to, None) == "on-call 2" and targets.oncall_number("sms", SECOND.to) == 2
    assert targets.who("telegram", CHAT.to, "Ana") == "Ana" and targets.oncall_number("telegram", CHAT.to) is None
    assert targets.who("sms", "+15550000009", None) is None


def case(**changes: object) -> Case:
    fields: dict[str, object] = {
        "id": "KABCDEF",
        "level": "emergency",
        "reason": "emergency",
        "red_flags": ("pe_breathing",),
        "findings": (("short_of_breath", "True"), ("age", "52"), ("fever", "False")),
        "channel": "sms",
        "opened_at": OPENED,
        "status": "open",
        "pages": 1,
        "participant": "sms-x",
    }
    return Case(**(fields | changes))  # type: ignore[arg-type]


def words(content: Content, locale: str = "en") -> Words:
    return Words(content.catalog, locale, ZoneInfo("America/New_York"))


def test_a_page_reads_in_plain_words_in_clinic_time_and_says_which_page_and_how_long(content: Content) -> None:
    paged = Paged(2, 4, OPENED + timedelta(minutes=20))
    text = sms_page(case(), words(content), paged).text
    assert "Red flags: Short of breath (possible clot in the lung)." in text
    assert "Reported: shortness of breath. Age 52." in text and "Said no to: fever." in text
    assert "Opened 10:00 EST" in text and "UTC" not in text and "pe_breathing" not in text
    assert "Page 2 of 4, waiting 20 min." in text and "Reply ACK KABCDEF to acknowledge" in text
    es = sms_page(case(), words(content, "es"), paged).text
    assert "Aviso 2 de 4, esperando 20 min." in es


def test_the_card_shows_the_status_and_only_the_buttons_that_still_apply(content: Content) -> None:
    fresh = card(case(), words(content), Paged(1, 2, OPENED))
    assert [b.data for b in fresh.buttons] == ["case:ack:KABCDEF", "case:resolve:KABCDEF"]
    acknowledged = card(case(status="acknowledged", acknowledged_by="Ana"), words(content))
    assert "Acknowledged by Ana." in acknowledged.text and "Page" not in acknowledged.text
    assert [b.data for b in acknowledged.buttons] == ["case:resolve:KABCDEF"]
    resolved = card(case(status="resolved", acknowledged_by="Ana"), words(content))
    assert "Resolved by Ana." in resolved.text and resolved.buttons == ()
    talking = card(case(handoff=True, contact="+12125550100"), words(content))
    assert "reply to them in the staff console" in talking.text and "Call back: +12125550100" in talking.text


def test_the_last_notice_says_no_more_pages_will_come(content: Content) -> None:
    notice = last_notice(case(pages=4), words(content), Paged(4, 4, OPENED + timedelta(minutes=40)))
    assert notice.text == (
        "Case KABCDEF: nobody acknowledged it after 4 pages over 40 min. No more pages will be sent; "
        "it stays open in the staff console."
    )
