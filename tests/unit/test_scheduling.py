"""Quiet hours and time zones: deferral across midnight and DST changes, and the zone a person is in."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.settings import parse_quiet_hours
from bot.shell.scheduling import QuietHours, _unambiguous, defer_for_quiet_hours, zone_for

NEW_YORK = ZoneInfo("America/New_York")
MADRID = ZoneInfo("Europe/Madrid")
TOKYO = ZoneInfo("Asia/Tokyo")
NIGHT = QuietHours(start=time(21, 0), end=time(8, 0))
LUNCH = QuietHours(start=time(12, 0), end=time(14, 0))
NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A local wall time in `zone`, as the UTC instant the scheduler would hold."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def assert_one_line_naming(error: pytest.ExceptionInfo[ValueError], text: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert repr(text) in message


# --- quiet hours -----------------------------------------------------------------------------------------------


def test_quiet_hours_must_have_length_and_no_zone() -> None:
    with pytest.raises(ValueError, match="same time"):
        QuietHours(time(1, 0), time(1, 0))
    with pytest.raises(ValueError, match="wall-clock"):
        QuietHours(time(21, 0, tzinfo=UTC), time(8, 0))


# --- deferral --------------------------------------------------------------------------------------------------

ZONES = [NEW_YORK, MADRID, TOKYO]
# (local time on the day, expected local result: None = unchanged, else (days later, hour, minute))
NIGHT_CASES = [
    ((20, 59), None),
    ((21, 0), (1, 8, 0)),
    ((23, 30), (1, 8, 0)),
    ((23, 59), (1, 8, 0)),
    ((0, 0), (0, 8, 0)),
    ((3, 0), (0, 8, 0)),
    ((7, 59), (0, 8, 0)),
    ((8, 0), None),
    ((12, 0), None),
]


@pytest.mark.parametrize("day", [(2024, 1, 15), (2024, 7, 15)], ids=["winter", "summer"])
@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize(("at", "expected"), NIGHT_CASES, ids=[f"{h:02}:{m:02}" for (h, m), _ in NIGHT_CASES])
def test_night_window_defers_to_the_next_local_morning(
    day: tuple[int, int, int], zone: ZoneInfo, at: tuple[int, int], expected: tuple[int, int, int] | None
) -> None:
    due = local(zone, *day, *at)
    result = defer_for_quiet_hours(due, zone, NIGHT)
    if expected is None:
        assert result == due
    else:
        days, hour, minute = expected
        morning = datetime(*day, hour, minute, tzinfo=zone) + timedelta(days=days)
        assert result == morning.astimezone(UTC)
        assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("due", "zone", "expected"),
    [
        # Exact UTC instants, worked out by hand, so that the test does not share the code's arithmetic.
        (utc(2024, 1, 16, 4, 30), NEW_YORK, utc(2024, 1, 16, 13, 0)),  # 23:30 EST -> 08:00 EST
        (utc(2024, 7, 16, 3, 30), NEW_YORK, utc(2024, 7, 16, 12, 0)),  # 23:30 EDT -> 08:00 EDT
        (utc(2024, 1, 15, 2, 0), MADRID, utc(2024, 1, 15, 7, 0)),  # 03:00 CET -> 08:00 CET
        (utc(2024, 7, 15, 1, 0), MADRID, utc(2024, 7, 15, 6, 0)),  # 03:00 CEST -> 08:00 CEST
        (utc(2024, 1, 15, 12, 0), TOKYO, utc(2024, 1, 15, 23, 0)),  # 21:00 JST -> 08:00 JST next day
        (utc(2024, 1, 15, 22, 59), TOKYO, utc(2024, 1, 15, 23, 0)),  # 07:59 JST -> 08:00 JST
        (utc(2024, 1, 15, 11, 59), TOKYO, utc(2024, 1, 15, 11, 59)),  # 20:59 JST unchanged
    ],
)
def test_night_window_in_exact_utc(due: datetime, zone: ZoneInfo, expected: datetime) -> None:
    assert defer_for_quiet_hours(due, zone, NIGHT) == expected


@pytest.mark.parametrize(
    ("due", "zone", "expected"),
    [
        # New York, clocks forward 2024-03-10 02:00 EST -> 03:00 EDT: the morning is at 12:00 UTC, not 13:00.
        (utc(2024, 3, 10, 4, 30), NEW_YORK, utc(2024, 3, 10, 12, 0)),  # 23:30 EST the night before
        (utc(2024, 3, 10, 6, 30), NEW_YORK, utc(2024, 3, 10, 12, 0)),  # 01:30 EST
        (utc(2024, 3, 10, 7, 30), NEW_YORK, utc(2024, 3, 10, 12, 0)),  # 03:30 EDT
        (utc(2024, 3, 10, 11, 59), NEW_YORK, utc(2024, 3, 10, 12, 0)),  # 07:59 EDT
        (utc(2024, 3, 10, 12, 0), NEW_YORK, utc(2024, 3, 10, 12, 0)),  # 08:00 EDT, unchanged
        # New York, clocks back 2024-11-03 02:00 EDT -> 01:00 EST: the morning is at 13:00 UTC, not 12:00.
        (utc(2024, 11, 3, 3, 30), NEW_YORK, utc(2024, 11, 3, 13, 0)),  # 23:30 EDT the night before
        (utc(2024, 11, 3, 5, 30), NEW_YORK, utc(2024, 11, 3, 13, 0)),  # 01:30 EDT, first time round
        (utc(2024, 11, 3, 6, 30), NEW_YORK, utc(2024, 11, 3, 13, 0)),  # 01:30 EST, second time round
        (utc(2024, 11, 3, 12, 59), NEW_YORK, utc(2024, 11, 3, 13, 0)),  # 07:59 EST
        (utc(2024, 11, 3, 12, 0), NEW_YORK, utc(2024, 11, 3, 13, 0)),  # 07:00 EST: an hour that was 08:00 EDT
        # Madrid, clocks forward 2024-03-31 02:00 CET -> 03:00 CEST, and back 2024-10-27 03:00 CEST -> 02:00 CET.
        (utc(2024, 3, 30, 22, 30), MADRID, utc(2024, 3, 31, 6, 0)),  # 23:30 CET -> 08:00 CEST
        (utc(2024, 3, 31, 5, 59), MADRID, utc(2024, 3, 31, 6, 0)),  # 07:59 CEST
        (utc(2024, 10, 26, 21, 30), MADRID, utc(2024, 10, 27, 7, 0)),  # 23:30 CEST -> 08:00 CET
        (utc(2024, 10, 27, 0, 30), MADRID, utc(2024, 10, 27, 7, 0)),  # 02:30 CEST, first time round
        (utc(2024, 10, 27, 1, 30), MADRID, utc(2024, 10, 27, 7, 0)),  # 02:30 CET, second time round
    ],
)
def test_night_window_across_dst_changes(due: datetime, zone: ZoneInfo, expected: datetime) -> None:
    assert defer_for_quiet_hours(due, zone, NIGHT) == expected


@pytest.mark.parametrize(
    ("window", "due", "zone", "expected"),
    [
        # The window ends at a wall time the clocks skip: it ends when they jump (07:00 UTC = 03:00 EDT).
        ("22:00-02:30", utc(2024, 3, 10, 4, 0), NEW_YORK, utc(2024, 3, 10, 7, 0)),
        ("22:00-02:00", utc(2024, 3, 10, 4, 0), NEW_YORK, utc(2024, 3, 10, 7, 0)),
        ("22:00-02:59", utc(2024, 3, 10, 6, 59, 59), NEW_YORK, utc(2024, 3, 10, 7, 0)),
        ("23:00-02:30", utc(2024, 3, 30, 23, 0), MADRID, utc(2024, 3, 31, 1, 0)),
        # The window ends at a wall time that happens twice: the first occurrence after `due`.
        ("23:00-01:30", utc(2024, 11, 3, 4, 30), NEW_YORK, utc(2024, 11, 3, 5, 30)),  # 00:30 EDT -> 01:30 EDT
        ("23:00-01:30", utc(2024, 11, 3, 6, 10), NEW_YORK, utc(2024, 11, 3, 6, 30)),  # 01:10 EST -> 01:30 EST
        ("23:00-01:30", utc(2024, 11, 3, 5, 40), NEW_YORK, utc(2024, 11, 3, 5, 40)),  # 01:40 EDT, not quiet
        # Samoa skipped 30 December 2011: 23:00 on the 29th (UTC-10) jumps to 00:00 on the 31st (UTC+14), still
        # quiet, so the window ends at 08:00 on the 31st.
        ("21:00-08:00", utc(2011, 12, 30, 9, 0), ZoneInfo("Pacific/Apia"), utc(2011, 12, 30, 18, 0)),
        # Santiago skips 00:00-01:00 on 8 September 2024; a window that is out only from 00:00 to 00:05 is never
        # out that night, so it ends at 00:00 on the 9th (UTC-3).
        ("00:05-00:00", utc(2024, 9, 8, 0, 0), ZoneInfo("America/Santiago"), utc(2024, 9, 9, 3, 0)),
    ],
)
def test_a_window_ending_in_a_gap_or_an_overlap_never_raises(
    window: str, due: datetime, zone: ZoneInfo, expected: datetime
) -> None:
    assert defer_for_quiet_hours(due, zone, parse_quiet_hours(window)) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ((11, 59), None),
        ((12, 0), (14, 0)),
        ((13, 0), (14, 0)),
        ((13, 59), (14, 0)),
        ((14, 0), None),
        ((23, 0), None),
        ((0, 0), None),
    ],
)
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_a_daytime_window_defers_to_its_end_the_same_day(
    zone: ZoneInfo, at: tuple[int, int], expected: tuple[int, int] | None
) -> None:
    due = local(zone, 2024, 3, 31, *at)  # Madrid changes clocks that morning; the window is later
    result = defer_for_quiet_hours(due, zone, LUNCH)
    assert result == (due if expected is None else local(zone, 2024, 3, 31, *expected))


def test_no_quiet_hours_changes_nothing() -> None:
    due = utc(2024, 1, 15, 3, 0)
    assert defer_for_quiet_hours(due, NEW_YORK, None) is due


def test_a_due_time_in_another_zone_is_read_as_the_same_instant() -> None:
    due = datetime(2024, 1, 15, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 23:30 in New York, as a fixed offset
    assert defer_for_quiet_hours(due, NEW_YORK, NIGHT) == utc(2024, 1, 16, 13, 0)


def test_a_naive_due_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        defer_for_quiet_hours(datetime(2024, 1, 15, 23, 30), NEW_YORK, NIGHT)  # noqa: DTZ001


PROPERTY_ZONES = [
    NEW_YORK,
    MADRID,
    TOKYO,
    ZoneInfo("Australia/Lord_Howe"),  # DST of half an hour
    ZoneInfo("America/Santiago"),  # clocks change at midnight
    ZoneInfo("Asia/Kathmandu"),  # +05:45
    ZoneInfo("Pacific/Apia"),
]
# Random instants and windows rarely meet a DST change, so half the examples are drawn around one, with a window
# that ends in the small hours, where the clocks jump.
CHANGES = [
    (NEW_YORK, utc(2024, 3, 10)),  # forward at 02:00
    (NEW_YORK, utc(2024, 11, 3)),  # back at 02:00
    (MADRID, utc(2024, 3, 31)),  # forward at 02:00
    (MADRID, utc(2024, 10, 27)),  # back at 03:00
    (ZoneInfo("Australia/Lord_Howe"), utc(2024, 4, 6)),  # back half an hour
    (ZoneInfo("Australia/Lord_Howe"), utc(2024, 10, 5)),  # forward half an hour
    (ZoneInfo("America/Santiago"), utc(2024, 4, 6)),  # back at midnight
    (ZoneInfo("America/Santiago"), utc(2024, 9, 8)),  # forward at midnight
    (ZoneInfo("Pacific/Apia"), utc(2011, 12, 30)),  # skips a day
]
minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)
anywhere = st.tuples(
    st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2030, 1, 1)).map(  # noqa: DTZ001
        lambda naive: naive.replace(tzinfo=UTC)
    ),
    st.sampled_from(PROPERTY_ZONES),
    minutes_of_day,
    minutes_of_day,
)
around_a_change = st.builds(
    lambda change, seconds, start, end: (change[1] + timedelta(seconds=seconds), change[0], start, end),
    st.sampled_from(CHANGES),
    st.integers(min_value=-36 * 3600, max_value=36 * 3600),
    minutes_of_day,
    st.integers(min_value=0, max_value=4 * 60),
)


@settings(max_examples=1500, deadline=None, database=None)
@given(st.one_of(anywhere, around_a_change))
def test_deferral_lands_on_the_first_moment_out_of_the_window(case: tuple[datetime, ZoneInfo, int, int]) -> None:
    due, zone, start, end = case
    if start == end:
        return
    quiet = QuietHours(time(start // 60, start % 60), time(end // 60, end % 60))
    result = defer_for_quiet_hours(due, zone, quiet)

    def quiet_at(instant: datetime) -> bool:
        return quiet.contains(instant.astimezone(zone).time().replace(tzinfo=None))

    if not quiet_at(due):
        assert result == due
        return
    assert result > due
    assert result - due <= timedelta(days=2)
    assert not quiet_at(result)
    assert quiet_at(result - timedelta(seconds=1))


# --- time zones ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "country", "expected"),
    [
        ("+12127365000", None, "America/New_York"),  # Manhattan
        ("+1 212 736 5000", "ES", "America/New_York"),  # the number beats the country
        ("+13105550100", None, "America/Los_Angeles"),
        ("+34912345678", None, "Europe/Madrid"),  # Madrid landline
        ("+34922123456", None, "Atlantic/Canary"),  # Tenerife landline
        ("+4915112345678", None, "Europe/Berlin"),  # a mobile, but Germany has one offset
        ("+442071234567", "US", "Europe/London"),
        ("+819012345678", None, "Asia/Tokyo"),
        # Spanish mobiles span Madrid and the Canaries, an hour apart; Spain as a country does too: the default.
        ("+34612345678", None, "UTC"),
        ("+34612345678", "ES", "UTC"),
        # A US toll-free number spans the continent: the country decides, else the default.
        ("+18005551234", None, "UTC"),
        ("+18005551234", "JP", "Asia/Tokyo"),
        # A number with no region (international freephone): the country decides, else the default.
        ("+80012345678", "JP", "Asia/Tokyo"),
        ("+80012345678", None, "UTC"),
        # Unreadable or not E.164: as if there were no number.
        ("not a number", "JP", "Asia/Tokyo"),
        ("2127365000", None, "UTC"),
        ("", "JP", "Asia/Tokyo"),
        ("+1212", "JP", "Asia/Tokyo"),
        # Country alone.
        (None, "JP", "Asia/Tokyo"),
        (None, "jp", "Asia/Tokyo"),
        (None, " NO ", "Europe/Oslo"),
        (None, "DE", "Europe/Berlin"),  # Berlin and Busingen keep the same clock
        (None, "US", "UTC"),
        (None, "ES", "UTC"),
        (None, "XX", "UTC"),
        (None, "USA", "UTC"),
        (None, "", "UTC"),
        (None, None, "UTC"),
    ],
)
def test_zone_for(phone: str | None, country: str | None, expected: str) -> None:
    assert zone_for(phone, country, "UTC", now=NOW) == ZoneInfo(expected)


@pytest.mark.parametrize("default", ["America/Chicago", "Europe/Madrid", "UTC"])
def test_zone_for_falls_back_to_the_default(default: str) -> None:
    assert zone_for("+18005551234", "US", default, now=NOW) == ZoneInfo(default)
    assert zone_for(None, None, default) == ZoneInfo(default)  # and works off the system clock


@pytest.mark.parametrize("default", ["Not/AZone", "", "America", "../etc/passwd", "/etc/localtime", " UTC", "zone.tab"])
def test_an_invalid_default_is_refused_even_when_the_number_would_do(default: str) -> None:
    with pytest.raises(ValueError) as error:
        zone_for("+12127365000", None, default, now=NOW)
    assert_one_line_naming(error, default)


def test_zone_for_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        zone_for(None, None, "UTC", now=datetime(2024, 1, 15))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["America/Denver", "America/Boise"], "America/Denver"),
        (["Europe/Berlin", "Europe/Busingen", "Europe/Oslo"], "Europe/Berlin"),
        (["Asia/Tokyo"], "Asia/Tokyo"),
        (["America/Denver", "America/Phoenix"], None),  # same offset in January, an hour apart from March
        (["America/New_York", "America/Chicago"], None),
        ([], None),
    ],
)
def test_zones_count_as_one_only_if_they_agree_for_the_coming_year(names: list[str], expected: str | None) -> None:
    result = _unambiguous([ZoneInfo(name) for name in names], NOW)
    assert result == (None if expected is None else ZoneInfo(expected))
