"""Number questions: how long ("about a month", "since Tuesday"), how old ("I'm 34", "18 months"), how bad
(out of 10). The amounts come from bot.triage.quantity; which one answers the question, and when it is out of range
or too vague, is here. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.triage.flow import UNSURE, Node
from bot.triage.phrasebook import Found, Kind
from bot.triage.quantity import Marks, Quantity, quantities
from bot.triage.reading import NOT_UNDERSTOOD, NUMBER_REPLIES, Answered, Reading, Unclear

UNIT_DAYS: Mapping[str, float] = {
    "minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365,
}  # fmt: skip
UNIT_YEARS: Mapping[str, float] = {"day": 1 / 365, "week": 1 / 52, "month": 1 / 12, "year": 1}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class _Said:
    """A message at a number question: its tokens, the phrases found, its amounts and the conversation's clock."""

    tokens: Sequence[str]
    found: Sequence[Found]
    amounts: Sequence[Quantity]
    now: datetime

    def ends(self, kind: Kind) -> set[int]:
        return {f.end for f in self.found if f.kind == kind}


def read_number(node: Node, tokens: Sequence[str], found: Sequence[Found], now: datetime) -> Reading:
    """The answer to a number question, or how it failed; `found` holds the phrasebook's hits, longest kept."""
    said = _Said(tokens, found, quantities(tokens, Marks(found)), now)
    read = {"days": _days, "age": _age, "score": _score}.get(node.parse, _integer)
    reading = read(node, said)
    if reading is not None:
        return reading
    vague = {"days": "duration_vague", "age": "age_vague", "score": "score_vague"}.get(node.parse)
    if any(f.kind == vague for f in found):
        return Unclear("vague", NUMBER_REPLIES[node.parse][2])
    if any(f.kind == "choice" for f in found):  # "not sure" is the only choice a number question has
        return Answered((UNSURE,))
    return unclear(node)


def unclear(node: Node) -> Unclear:
    """Not understood, with the reply that says what the question takes."""
    key = NUMBER_REPLIES[node.parse][0] if node.kind == "number" else NOT_UNDERSTOOD
    return Unclear("not_understood", key)


def in_range(node: Node, value: float) -> Reading:
    """The number as the answer, or out of range; a score is a whole number (7.5 is 8)."""
    if not node.min <= value <= node.max:
        return Unclear("out_of_range", NUMBER_REPLIES[node.parse][1])
    if node.parse in ("integer", "score"):
        if node.parse == "integer" and value != int(value):
            return unclear(node)
        return Answered((str(math.floor(value + 0.5)),))  # 7.5 is 8: the higher of the two it sits between
    return Answered((f"{round(value, 3):g}",))


def _integer(node: Node, said: _Said) -> Reading | None:
    bare = [q for q in said.amounts if q.unit is None]
    return in_range(node, bare[0].value) if bare else None


def _score(node: Node, said: _Said) -> Reading | None:
    """Out of ten: "7/10", "siete de diez", "6 or 7" (the higher), "no pain"; "11/10" is the top of the scale."""
    rated = [min(q.value * 10 / q.over, node.max) for q in said.amounts if q.over]
    bare = [q.value for q in said.amounts if q.unit is None and not q.over and not (q.written and q.value % 1)]
    words = [float(f.key) for f in said.found if f.kind == "score"]
    values = rated or bare or words  # "not the worst, a 6" is 6
    return in_range(node, max(values)) if values else None


def _age(node: Node, said: _Said) -> Reading | None:
    """ "I'm 34", "my son is 9", "18 months" (1.5), "sesenta", "born in 1950"; "in his 70s", "over 50" and "40 or 50"
    are vague."""
    before, born, loose = said.ends("age_before"), said.ends("born"), said.ends("age_vague")
    strong: set[float] = set()
    weak: set[float] = set()
    amounts, tokens = said.amounts, said.tokens
    for n, q in enumerate(amounts):
        decade = q.end < len(tokens) and tokens[q.end] == "s" and q.value % 10 == 0
        ranged = not q.unit and (q.joined or (n + 1 < len(amounts) and amounts[n + 1].joined))
        if decade or ranged or q.start in loose or q.start - 1 in loose:
            return Unclear("vague", NUMBER_REPLIES["age"][2])
        if q.start in born and q.value >= 1000:
            strong.add(said.now.year - q.value)
        elif q.unit is not None:
            if q.unit in UNIT_YEARS:
                strong.add(q.value * UNIT_YEARS[q.unit])
        elif q.over is None and q.alone:
            marked = any(i in before for i in range(q.start - 2, q.start + 1))
            (strong if marked else weak).add(q.value)
    ages = strong or weak
    if len(ages) > 1:
        return unclear(node)
    return in_range(node, ages.pop()) if ages else None


def _days(node: Node, said: _Said) -> Reading | None:
    """How long: "3 days ago", "a week and a half", "2 or 3 weeks" (the lower), "since Tuesday", "desde ayer"."""
    weekday = said.now.weekday()
    spans = [float(f.key) for f in said.found if f.kind == "span"]
    spans += [((weekday - WEEKDAYS.index(f.key)) % 7) or 7 for f in said.found if f.kind == "weekday"]
    counted = {i for q in said.amounts for i in range(q.start, q.end)}
    last = [f for f in said.found if f.kind == "last"]
    for f in said.found:
        if f.kind == "unit" and f.start not in counted:
            if any(x.end == f.start or x.start == f.end for x in last):  # "last week", "la semana pasada"
                spans.append(UNIT_DAYS[f.key])
            elif not spans:
                return Unclear("vague", NUMBER_REPLIES["days"][2])  # "for weeks"
    timed: list[float] = []
    pending: list[Quantity] = []  # numbers waiting for the unit after them: "2 or 3 weeks"
    for q in said.amounts:
        if q.over is not None:
            continue
        if q.unit is None:
            pending = [*pending, q] if q.joined else [q]
            continue
        days = q.value * UNIT_DAYS[q.unit]
        if pending and q.joined:
            days = min(days, *(p.value * UNIT_DAYS[q.unit] for p in pending))  # a range: its lower end
        elif q.joined and timed:
            days += timed.pop()  # "3 weeks and 2 days"
        timed.append(days)
        pending = []
    values = timed + spans
    if not values:
        bare = [q.value for q in said.amounts if q.unit is None and q.over is None]
        values = [min(bare)] if bare else []
    return in_range(node, max(values)) if values else None
