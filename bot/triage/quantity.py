"""Numbers in a message, in digits or words, with the unit after them: "3 days", "a couple of weeks", "treinta y
cuatro", "a week and a half", "7/10". The words come from the phrasebook; how they combine is here. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bot.triage.phrasebook import Found, Kind
from bot.triage.text import PUNCTUATION

_DIGITS_MAX = 6  # longer runs of digits are phone numbers or ids, not amounts
SCALES = (100.0, 1000.0)


@dataclass(frozen=True)
class Quantity:
    """A number at tokens [start, end) and the unit after it ("week"). `written`: in words; `alone`: no other word
    follows in its clause ("34 i think", not "2 kids"); `joined`: only "and", "or", "to" or a dash lies between it and
    the quantity before (a sum or a range); `over`: the 10 of "7 out of 10"."""

    value: float
    start: int
    end: int
    unit: str | None = None
    written: bool = False
    alone: bool = False
    joined: bool = False
    over: float | None = None


class Marks:
    """The phrasebook's hits by the token they start at, each kind once (the longest)."""

    def __init__(self, found: Iterable[Found]) -> None:
        self._at: dict[tuple[int, str], Found] = {}
        for f in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
            self._at.setdefault((f.start, f.kind), f)

    def at(self, i: int, *kinds: Kind) -> Found | None:
        for kind in kinds:
            found = self._at.get((i, kind))
            if found is not None:
                return found
        return None


def is_number(token: str) -> bool:
    if not token[:1].isdigit():
        return False
    whole, _, fraction = token.partition(".")
    return whole.isdigit() and len(whole) <= _DIGITS_MAX and (not fraction or fraction.isdigit())


def quantities(tokens: Sequence[str], marks: Marks) -> list[Quantity]:
    """Every amount in the message, in order."""
    out: list[Quantity] = []
    i = 0
    while i < len(tokens):
        start = i
        value, i, written = number_at(tokens, marks, i)
        if value is None:
            i = start + 1
            continue
        if half := marks.at(i, "half"):  # "2 and a half weeks"
            value, i = value + 0.5, half.end
        if marks.at(i, "article") and marks.at(i + 1, "unit"):  # "half a day"
            i += 1
        q = Quantity(value, start, i, written=written)
        if unit := marks.at(i, "unit"):
            q, i = replace(q, unit=unit.key, end=unit.end), unit.end
            if half := marks.at(i, "half"):  # "a week and a half"
                q, i = replace(q, value=q.value + 0.5, end=half.end), half.end
        elif (over := marks.at(i, "out_of")) or (i < len(tokens) and tokens[i] == "/"):
            after = over.end if over else i + 1
            denominator, end, _ = number_at(tokens, marks, after)
            if denominator is not None:
                q, i = replace(q, over=denominator, end=end), end
        if out and _joined(tokens, marks, out[-1].end, start):
            q = replace(q, joined=True)
        out.append(replace(q, alone=_alone(tokens, marks, i)))
    return out


def number_at(tokens: Sequence[str], marks: Marks, i: int) -> tuple[float | None, int, bool]:
    """The number starting at token i (digits, or words that compose: "twenty one", "ciento veinte"), the token after
    it, and whether it was in words. An article ("a", "un") is one only just before a unit ("a week")."""
    if i >= len(tokens):
        return None, i, False
    if is_number(tokens[i]):
        return float(tokens[i]), i + 1, False
    if article := marks.at(i, "article"):
        after = marks.at(article.end, "number")
        if marks.at(article.end, "unit", "half"):
            return 1.0, article.end, True
        if after is not None and float(after.key) in (*SCALES, 0.5):  # "a hundred", "a half day"
            return _words(marks, article.end)
        return None, i, False
    return _words(marks, i)


def _words(marks: Marks, i: int) -> tuple[float | None, int, bool]:
    total, current, last, end = 0.0, 0.0, None, i
    while True:
        found, joined = marks.at(end, "number"), False
        if found is None and last is not None and (joiner := marks.at(end, "joiner")):  # "treinta y cuatro"
            found, joined = marks.at(joiner.end, "number"), True
        if found is None:
            break
        value = float(found.key)
        if last is not None and not _composes(last, value, joined=joined):
            break
        if value in SCALES:
            current = (current or 1.0) * value
            if value == SCALES[-1]:
                total, current = total + current, 0.0
        else:
            current += value
        last, end = value, found.end
    if last is None:
        return None, i, False
    return total + current, end, True


def _composes(before: float, value: float, *, joined: bool) -> bool:
    """Whether `value` goes on the number before it: units after tens ("twenty one", "treinta y cuatro"), a scale after
    a smaller number ("two hundred"), less than a hundred after a hundred ("ciento veinte", "a hundred and five").
    "one two" and "uno y dos" are two numbers."""
    if value in SCALES:
        return not joined and before < value
    if before >= 100:
        return value < 100
    if 20 <= before < 100 and before % 10 == 0:
        return 1 <= value <= 9 and value == int(value)
    return False


def _joined(tokens: Sequence[str], marks: Marks, end: int, start: int) -> bool:
    i = end
    while i < start:
        if found := marks.at(i, "join", "joiner"):
            i = found.end
        elif tokens[i] in ("/", ","):
            i += 1
        else:
            return False
    return True


def _alone(tokens: Sequence[str], marks: Marks, i: int) -> bool:
    if i >= len(tokens) or tokens[i] in PUNCTUATION:
        return True
    return marks.at(i, "filler", "join", "joiner", "age_after") is not None
