"""Leads' figures from audit entries (pure), their CSV, and the server-drawn SVG charts."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.console import charts
from bot.console.stats import Period, Tally, to_csv

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)  # Thursday 10:00 in New York
SVG = "{http://www.w3.org/2000/svg}"


def entry(kind: str, at: datetime, **fields: str) -> dict[str, str]:
    return {"kind": kind, "at": at.isoformat(timespec="seconds"), **fields}


def test_weeks_start_on_monday_in_the_clinics_time_zone() -> None:
    period = Period.ending(NOW, 3, ZONE)
    assert period.weeks == (date(2026, 10, 19), date(2026, 10, 26), date(2026, 11, 2))
    assert period.since == datetime(2026, 10, 19, 0, 0, tzinfo=ZONE)
    # Sunday 23:30 in New York is Monday 04:30 UTC: it belongs to the week before.
    assert period.week_of(datetime(2026, 11, 2, 4, 30, tzinfo=UTC)) == 1
    assert period.week_of(datetime(2026, 11, 2, 5, 30, tzinfo=UTC)) == 2
    assert period.week_of(datetime(2026, 10, 19, 3, 59, tzinfo=UTC)) is None
    assert period.week_of(datetime(2026, 11, 9, 5, 0, tzinfo=UTC)) is None


def test_tally_counts_each_figure_by_week() -> None:
    period = Period.ending(NOW, 2, ZONE)
    week_ago = NOW - timedelta(days=7)
    tally = Tally(period)
    entries = [
        entry("started", week_ago, flow="intake"),
        entry("started", NOW, flow="intake"),
        entry("started", NOW, flow="intake"),
        entry("assessment", week_ago, level="urgent"),
        entry("assessment", NOW, level="self_care"),
        entry("interrupt", NOW, flags="short_of_breath,chest_pain"),
        entry("interrupt", NOW, flags="short_of_breath"),
        entry("checkin_answered", NOW, answer="same"),
        entry("checkin_answered", NOW, answer="unknown-answer"),
        entry("escalation_opened", week_ago, case="KAAAAAA"),
        entry("escalation_acknowledged", week_ago + timedelta(minutes=3), case="KAAAAAA"),
        entry("escalation_resolved", week_ago + timedelta(minutes=30), case="KAAAAAA"),
        entry("escalation_opened", NOW, case="KBBBBBB"),
        entry("escalation_resolved", NOW + timedelta(minutes=11), case="KBBBBBB"),
        entry("escalation_opened", NOW, case="KCCCCCC"),
        entry("escalation_opened", NOW - timedelta(weeks=5), case="KOLD"),
        entry("started", NOW - timedelta(weeks=5)),
        {"kind": "started", "at": "not a time"},
    ]
    for e in reversed(entries):  # the console reads newest first
        tally.add(e)
    stats = tally.result()
    assert (stats.started, stats.finished) == ((1, 2), (1, 1))
    assert dict(stats.by_level)["urgent"] == (1, 0) and dict(stats.by_level)["self_care"] == (0, 1)
    assert stats.interrupts == (("short_of_breath", 2), ("chest_pain", 1))
    assert stats.answers == (("better", 0), ("same", 1), ("worse", 0))
    assert stats.ack_minutes == (3.0, 11.0)
    assert (stats.ack_median_minutes, stats.acknowledged, stats.waiting) == (7.0, 2, 1)
    assert stats.completion_percent == 67


def test_csv_is_one_figure_a_row() -> None:
    period = Period.ending(NOW, 2, ZONE)
    tally = Tally(period)
    tally.add(entry("assessment", NOW, level="emergency"))
    rows = list(csv.reader(io.StringIO(to_csv(tally.result()))))
    assert rows[0] == ["figure", "week", "key", "value"]
    assert ["assessments", "2026-11-02", "emergency", "1"] in rows
    assert ["median_minutes_to_acknowledge", "2026-11-02", "", ""] in rows
    assert all(len(row) == 4 for row in rows)


def test_an_empty_period_has_no_rates() -> None:
    stats = Tally(Period.ending(NOW, 4, ZONE)).result()
    assert stats.completion_percent is None and stats.ack_median_minutes is None
    assert stats.started == (0, 0, 0, 0)


@pytest.mark.parametrize(("peak", "top"), [(0, 4), (3, 4), (5, 8), (17, 20), (41, 80), (399, 400)])
def test_axis_tops_are_round_with_whole_ticks(peak: float, top: float) -> None:
    assert charts.nice_max(peak) == top


def test_charts_are_well_formed_svg_without_inline_style_and_with_escaped_labels() -> None:
    stacked = charts.columns(
        "Levels <by week>",
        ["10-26", "11-02"],
        [charts.Series("urgent", "Urgent", (1.0, 0.0)), charts.Series("emergency", "Emergency & more", (2.0, None))],
        stacked=True,
    )
    tree = ET.fromstring(stacked)
    bars = [r for r in tree.iter(f"{SVG}rect") if "bar" in (r.get("class") or "") and r.find(f"{SVG}title") is not None]
    assert len(bars) == 3  # a missing value draws nothing
    assert tree.find(f"{SVG}title").text == "Levels <by week>"  # type: ignore[union-attr]
    assert "style=" not in stacked and "<script" not in stacked
    heights = {b.find(f"{SVG}title").text: float(b.get("height", "0")) for b in bars}  # type: ignore[union-attr]
    assert heights["10-26: Emergency & more 2"] == pytest.approx(2 * heights["10-26: Urgent 1"])

    horizontal = ET.fromstring(charts.rows("Signs", [("Short of breath", 3.0), ("Chest <pain>", 1.0)], "interrupt"))
    labels = [t.text for t in horizontal.iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels == ["Short of breath", "Chest <pain>"]
