"""Check-in settings: durations, the check-in schedule and quiet hours, parsed strictly with one-line errors."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from bot.app.settings import parse_checkin_schedule, parse_duration, parse_quiet_hours
from bot.shell.scheduling import QuietHours
from bot.triage.engine import DEFAULT_CHECKINS
from bot.triage.findings import Level


def assert_one_line_naming(error: pytest.ExceptionInfo[ValueError], text: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert repr(text) in message


# --- durations -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("2d", timedelta(days=2)),
        ("1.5h", timedelta(minutes=90)),
        ("0.5s", timedelta(milliseconds=500)),
        ("0.001s", timedelta(milliseconds=1)),
        ("60h", timedelta(days=2, hours=12)),
        ("7d", timedelta(weeks=1)),
        ("007m", timedelta(minutes=7)),
        ("36500d", timedelta(days=36500)),
        (" 6h ", timedelta(hours=6)),
        ("6h\n", timedelta(hours=6)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "6",
        "h",
        "6H",
        "6 h",
        "6hr",
        "6w",
        "-1h",
        "+1h",
        "0h",
        "0s",
        "0.0d",
        "0.0000001s",  # rounds to zero microseconds
        ".5h",
        "5.h",
        "1.5.h",
        "1e3m",
        "1,5h",
        "1h30m",
        "1h\n2h",
        "inf",
        "nanh",
        "\u0661h",  # ARABIC-INDIC DIGIT ONE: str.isdigit says yes, a setting should say no
        "9" * 30 + "d",  # beyond timedelta
    ],
)
def test_parse_duration_rejects_with_a_one_line_message_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert_one_line_naming(error, text)


# --- check-in schedule -----------------------------------------------------------------------------------------


def test_the_documented_example_parses_to_exact_delays() -> None:
    assert parse_checkin_schedule("emergency=1h;urgent=6h;soon=60h;self_care=48h,7d") == {
        Level.emergency: (timedelta(hours=1),),
        Level.urgent: (timedelta(hours=6),),
        Level.soon: (timedelta(hours=60),),
        Level.self_care: (timedelta(hours=48), timedelta(days=7)),
    }


@pytest.mark.parametrize("text", ["", "   ", ";", " ; ;"])
def test_an_empty_schedule_is_the_default(text: str) -> None:
    assert parse_checkin_schedule(text) == dict(DEFAULT_CHECKINS)


@pytest.mark.parametrize(
    ("text", "changed"),
    [
        ("urgent=3h", {Level.urgent: (timedelta(hours=3),)}),
        ("soon=", {Level.soon: ()}),
        ("soon= ", {Level.soon: ()}),
        ("emergency=30m;self_care=1d", {Level.emergency: (timedelta(minutes=30),), Level.self_care: (timedelta(1),)}),
        (" self_care = 12h , 1.5d ; ", {Level.self_care: (timedelta(hours=12), timedelta(hours=36))}),
        ("soon=;urgent=", {Level.soon: (), Level.urgent: ()}),
        ("self_care=1d,2d,3d,4d", {Level.self_care: tuple(timedelta(days=n) for n in range(1, 5))}),
    ],
)
def test_levels_not_named_keep_their_default(text: str, changed: dict[Level, tuple[timedelta, ...]]) -> None:
    expected = {level: changed.get(level, DEFAULT_CHECKINS[level]) for level in Level}
    schedule = parse_checkin_schedule(text)
    assert schedule == expected
    assert set(schedule) == set(Level)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("urgent", "urgent"),
        ("urgent:6h", "urgent:6h"),
        ("urgnt=6h", "urgnt=6h"),
        ("URGENT=6h", "URGENT=6h"),
        ("=6h", "=6h"),
        ("urgent=6x", "urgent=6x"),
        ("urgent=0h", "urgent=0h"),
        ("self_care=48h,", "self_care=48h,"),
        ("self_care=,48h", "self_care=,48h"),
        ("self_care=7d,48h", "self_care=7d,48h"),
        ("self_care=48h,48h", "self_care=48h,48h"),
        ("soon=1h;self_care=2d,1d", "self_care=2d,1d"),
        ("urgent=6h;urgent=7h", "urgent=6h;urgent=7h"),
        ("soon=;soon=", "soon=;soon="),
    ],
)
def test_bad_schedules_are_refused_naming_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_checkin_schedule(text)
    assert_one_line_naming(error, named)


def test_schedule_result_is_a_fresh_dict() -> None:
    first = parse_checkin_schedule("")
    first[Level.soon] = ()
    assert parse_checkin_schedule("")[Level.soon] == DEFAULT_CHECKINS[Level.soon]


# --- quiet hours -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\t\n", "off", "OFF", " off "])
def test_off_or_blank_quiet_hours_are_off(text: str) -> None:
    assert parse_quiet_hours(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21:00-08:00", QuietHours(time(21, 0), time(8, 0))),
        ("12:00-14:00", QuietHours(time(12, 0), time(14, 0))),
        ("00:00-23:59", QuietHours(time(0, 0), time(23, 59))),
        ("22:30-06:15", QuietHours(time(22, 30), time(6, 15))),
        (" 21:00-08:00\n", QuietHours(time(21, 0), time(8, 0))),
    ],
)
def test_quiet_hours_parse(text: str, expected: QuietHours) -> None:
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "21:00",
        "9:00-17:00",
        "21:00 - 08:00",
        "21.00-08.00",
        "2100-0800",
        "24:00-08:00",
        "21:00-24:00",
        "21:60-08:00",
        "21:00-08:00-09:00",
        "21:00-21:00",
        "9pm-8am",
        "none",
        "\u0662\u0661:00-08:00",
    ],
)
def test_bad_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_quiet_hours(text)
    assert_one_line_naming(error, text)
