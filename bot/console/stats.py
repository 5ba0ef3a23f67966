"""Figures for clinic leads, counted from the audit stream: conversations, assessments by level, red-flag interrupts,
check-in answers and time to acknowledge a case, by week (starting Monday, in the clinic's time zone). Pure.

The audit stream holds kinds, levels, red-flag ids and case ids only, so these figures can say nothing about a person.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LEVELS = ("emergency", "urgent", "soon", "self_care")
ANSWERS = ("better", "same", "worse")
WEEK_CHOICES = (4, 12, 26, 52)


@dataclass(frozen=True)
class Period:
    weeks: tuple[date, ...]  # each week's Monday, oldest first
    zone: ZoneInfo

    @classmethod
    def ending(cls, now: datetime, count: int, zone: ZoneInfo) -> Period:
        today = now.astimezone(zone).date()
        monday = today - timedelta(days=today.weekday())
        return cls(tuple(monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)), zone)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.weeks[0], time(), self.zone)

    def week_of(self, at: datetime) -> int | None:
        day = at.astimezone(self.zone).date()
        index = (day - self.weeks[0]).days // 7
        return index if 0 <= index < len(self.weeks) else None


@dataclass(frozen=True)
class Statistics:
    period: Period
    started: tuple[int, ...]
    finished: tuple[int, ...]
    by_level: tuple[tuple[str, tuple[int, ...]], ...]  # (level, per week), in LEVELS order
    interrupts: tuple[tuple[str, int], ...]  # (red-flag id, count), most first
    answers: tuple[tuple[str, int], ...]  # (better | same | worse, count)
    ack_minutes: tuple[float | None, ...]  # the median per week the cases were opened
    ack_median_minutes: float | None
    acknowledged: int
    waiting: int  # cases opened in the period and never acknowledged

    @property
    def completion_percent(self) -> int | None:
        started = sum(self.started)
        return round(100 * sum(self.finished) / started) if started else None


class Tally:
    """Takes audit entries in any order (`add`), then gives the Statistics of the period."""

    def __init__(self, period: Period) -> None:
        self.period = period
        size = len(period.weeks)
        self.started, self.finished = [0] * size, [0] * size
        self.levels = {level: [0] * size for level in LEVELS}
        self.interrupts: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self.opened: dict[str, tuple[datetime, int]] = {}
        self.first_ack: dict[str, datetime] = {}

    def add(self, entry: Mapping[str, str]) -> None:
        at = entry_time(entry)
        week = self.period.week_of(at) if at else None
        kind = entry.get("kind", "")
        if kind in ("escalation_acknowledged", "escalation_resolved") and at and entry.get("case"):
            case = entry["case"]
            if case not in self.first_ack or at < self.first_ack[case]:
                self.first_ack[case] = at  # resolving a case never acknowledged acknowledges it too
        if week is None or at is None:
            return
        if kind == "started":
            self.started[week] += 1
        elif kind == "assessment":
            self.finished[week] += 1
            if entry.get("level") in self.levels:
                self.levels[entry["level"]][week] += 1
        elif kind == "interrupt":
            self.interrupts.update(f for f in entry.get("flags", "").split(",") if f)
        elif kind == "checkin_answered" and entry.get("answer") in ANSWERS:
            self.answers[entry["answer"]] += 1
        elif kind == "escalation_opened" and entry.get("case"):
            self.opened[entry["case"]] = (at, week)

    def result(self) -> Statistics:
        per_week: list[list[float]] = [[] for _ in self.period.weeks]
        waiting = 0
        for case, (opened_at, week) in self.opened.items():
            acked = self.first_ack.get(case)
            if acked is None:
                waiting += 1
            else:
                per_week[week].append(max((acked - opened_at).total_seconds(), 0) / 60)
        every = [m for week in per_week for m in week]
        return Statistics(
            period=self.period,
            started=tuple(self.started),
            finished=tuple(self.finished),
            by_level=tuple((level, tuple(self.levels[level])) for level in LEVELS),
            interrupts=tuple(sorted(self.interrupts.items(), key=lambda item: (-item[1], item[0]))),
            answers=tuple((answer, self.answers[answer]) for answer in ANSWERS),
            ack_minutes=tuple(statistics.median(week) if week else None for week in per_week),
            ack_median_minutes=statistics.median(every) if every else None,
            acknowledged=len(every),
            waiting=waiting,
        )


def entry_time(entry: Mapping[str, str]) -> datetime | None:
    try:
        at = datetime.fromisoformat(entry.get("at", ""))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def to_csv(stats: Statistics) -> str:
    """Long format, one figure a row (`figure,week,key,value`): a spreadsheet pivots it whichever way it likes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", "week", "key", "value"])
    for i, week in enumerate(stats.period.weeks):
        day = week.isoformat()
        writer.writerow(["conversations_started", day, "", stats.started[i]])
        writer.writerow(["conversations_finished", day, "", stats.finished[i]])
        for level, counts in stats.by_level:
            writer.writerow(["assessments", day, level, counts[i]])
        minutes = stats.ack_minutes[i]
        writer.writerow(["median_minutes_to_acknowledge", day, "", "" if minutes is None else f"{minutes:.1f}"])
    since = stats.period.weeks[0].isoformat()
    for flag, count in stats.interrupts:
        writer.writerow(["red_flag_interrupts", since, flag, count])
    for answer, count in stats.answers:
        writer.writerow(["checkin_answers", since, answer, count])
    overall = stats.ack_median_minutes
    writer.writerow(["median_minutes_to_acknowledge", since, "all", "" if overall is None else f"{overall:.1f}"])
    writer.writerow(["cases_acknowledged", since, "", stats.acknowledged])
    writer.writerow(["cases_not_acknowledged", since, "", stats.waiting])
    return out.getvalue()
