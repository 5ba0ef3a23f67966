"""When check-ins go out: the quiet-hours rule and the person's time zone.

Everything here is pure apart from reading the time-zone database (zoneinfo, and its country table zone.tab) and
phonenumbers' offline metadata; the wall clock is read only through bot.clock, and only when the caller gives no `now`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from bot.clock import SystemClock

__all__ = ["QuietHours", "defer_for_quiet_hours", "zone_for"]

_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)

# Zones that agree "now" can still part ways at the next DST change, and a check-in is scheduled up to days ahead,
# so "same offset" is checked now and once a day for the coming year.
_AGREEMENT_HORIZON_DAYS = 366
_MAX_DEFERRALS = 8


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local wall-clock time, [start, end), in which no check-in is sent.

    Wall-clock times, not offsets: 21:00 means 21:00 on the person's clock whatever the season. start > end means
    the window crosses midnight; start == end is refused because it could mean "never" or "always".
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times; give them without a time zone")
        if self.start == self.end:
            raise ValueError(f"quiet hours start and end at the same time ({self.start:%H:%M})")

    def contains(self, wall: time) -> bool:
        """Whether a local wall-clock time falls inside the window."""
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


def zone_for(phone: str | None, country: str | None, default: str, *, now: datetime | None = None) -> ZoneInfo:
    """The person's time zone, best evidence first: phone number, then country, then the deployment's default.

    A zone is taken from the phone number (E.164, as the SMS channel stores it) or the country (ISO alpha-2) only
    when it is unambiguous for scheduling: one zone, or several that keep the same UTC offset from `now` through
    the coming year (Europe/Berlin and Europe/Busingen, say); the first is returned. A number or country that spans
    different offsets (a US toll-free number, the US, Spain with the Canaries) gives no answer rather than a guess
    that is hours out. `default` is checked on every call, so a misconfigured default fails at once rather than on
    the first person with an unplaceable number. `now` defaults to the system clock.
    """
    fallback = _load_zone(default)
    if fallback is None:
        raise ValueError(f"invalid default time zone {default!r}: not a zone in the time-zone database")
    when = now if now is not None else SystemClock().now()
    if when.tzinfo is None:
        raise ValueError("zone_for needs a timezone-aware `now`")
    day = when.astimezone(UTC).date()
    for names in (_zones_for_phone(phone), _zones_for_country(country)):
        zone = _unambiguous_on(tuple(names), day)
        if zone is not None:
            return zone
    return fallback


@lru_cache(maxsize=4096)
def _unambiguous_on(names: tuple[str, ...], day: date) -> ZoneInfo | None:
    """_unambiguous from the start of `day` (UTC), cached: every check-in scheduled asks, and the answer for a set of
    zones changes at most once a day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return _unambiguous([z for z in map(_load_zone, names) if z is not None], start)


def defer_for_quiet_hours(due: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime:
    """`due` itself, or (if its local time in `zone` is inside the quiet window) the instant the window ends, in UTC.

    The window ends at the next local `end` on the wall clock, worked out on local dates so that a DST change
    overnight moves the UTC instant, not the local time. If that wall time happens twice (clocks going back), the
    first occurrence after `due` is used. If it never happens (clocks going forward over it), the window ends when
    the clocks jump past it, unless they jump straight into the next quiet stretch (a short out-of-window gap, or a
    skipped day as in Samoa in 2011), in which case it ends where that stretch does. The result is always the first
    moment the local time is no longer quiet.
    """
    if due.tzinfo is None or due.utcoffset() is None:
        raise ValueError("defer_for_quiet_hours needs a timezone-aware `due`")
    if quiet is None:
        return due
    moment = due
    # Each round passes one clock change; real zones never need more than two, the bound only guards the loop.
    for _ in range(_MAX_DEFERRALS):
        local = moment.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if not quiet.contains(wall):
            break
        end_date = local.date()
        if quiet.start > quiet.end and wall >= quiet.start:
            end_date += timedelta(days=1)
        moment = _first_instant_at_or_after(end_date, quiet.end, zone, moment)
    return due if moment is due else moment.astimezone(UTC)


def _first_instant_at_or_after(day: date, wall: time, zone: ZoneInfo, after: datetime) -> datetime:
    """The earliest instant later than `after` at which the local clock in `zone` reads `day` `wall` or later."""
    target = datetime.combine(day, wall)
    existing: list[datetime] = []
    for fold in (0, 1):
        candidate = target.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if candidate.astimezone(zone).replace(tzinfo=None) == target and candidate > after:
            existing.append(candidate)
    if existing:
        return min(existing)
    # The wall time falls in a gap. With fold=1 zoneinfo reads it with the offset after the change (an instant
    # before the gap); with fold=0 with the offset before it (an instant after the gap). The clocks jump in
    # between: search for the first whole second whose local time has passed the target (transitions are on
    # whole seconds).
    before_gap = max(target.replace(tzinfo=zone, fold=1).astimezone(UTC), after.astimezone(UTC))
    after_gap = target.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low, high = math.floor(before_gap.timestamp()), math.floor(after_gap.timestamp()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).replace(tzinfo=None) >= target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=1024)
def _load_zone(name: str) -> ZoneInfo | None:
    """The zone, or None when the name is not in this machine's time-zone database (or not a zone name at all)."""
    if not name or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _zones_for_phone(phone: str | None) -> Sequence[str]:
    """Zone names phonenumbers gives for an E.164 number; none for a missing, unreadable or unplaceable number."""
    if not phone:
        return ()
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    return [name for name in phone_timezone.time_zones_for_number(number) if name != phone_timezone.UNKNOWN_TIMEZONE]


def _zones_for_country(country: str | None) -> Sequence[str]:
    """Zone names of an ISO alpha-2 country from the tz database's zone.tab; none when unknown."""
    if not country:
        return ()
    code = country.strip().upper()
    if not _COUNTRY.fullmatch(code):
        return ()
    return _country_zones().get(code, ())


def _unambiguous(zones: Sequence[ZoneInfo], now: datetime) -> ZoneInfo | None:
    """The first zone, if every zone keeps the same UTC offset as it from `now` through the next year."""
    if not zones:
        return None
    first, rest = zones[0], zones[1:]
    for day in range(_AGREEMENT_HORIZON_DAYS):
        instant = now + timedelta(days=day)
        offset = instant.astimezone(first).utcoffset()
        if any(instant.astimezone(zone).utcoffset() != offset for zone in rest):
            return None
    return first


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> zone names, in zone.tab order (the main zone first), from the tz database zoneinfo reads.

    phonenumbers has no public country-to-zones table (its data is keyed by number prefix and a calling code can
    be shared, as +1 is), so this reads zone.tab, which every tz database ships: Debian's /usr/share/zoneinfo or
    the tzdata package. zone1970.tab is the fallback; its rows name several countries. No table, no country rule.
    """
    for lines in _tz_table("zone.tab"), _tz_table("zone1970.tab"):
        table: dict[str, list[str]] = {}
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            for code in fields[0].split(","):
                table.setdefault(code.strip(), []).append(fields[2].strip())
        if table:
            return {code: tuple(names) for code, names in table.items()}
    return {}


def _tz_table(filename: str) -> Iterable[str]:
    """Lines of a tz database table from the first place zoneinfo would look: TZPATH, then the tzdata package."""
    for directory in TZPATH:
        path = Path(directory) / filename
        try:
            return path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
    try:
        return resources.files("tzdata").joinpath("zoneinfo", filename).read_text(encoding="utf-8").splitlines()
    except (ModuleNotFoundError, OSError, UnicodeDecodeError):
        return ()
