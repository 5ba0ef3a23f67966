"""Cases in the clinic staff's words, for every view (the console, the staff chat's card, the on-call page): level,
reason, red flags and findings from the staff catalog (locales/<lang>/staff.yaml), times in the clinic's time zone.
An id the catalog does not know yet (a red flag or finding added to the triage core later) is shown as the id in
readable form, never dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.content.catalog import Catalog, join_list
from bot.triage.effects import Text

_NUMBERS = {
    "age": "staff.findings.age",
    "pain_score": "staff.findings.pain",
    "duration_days": "staff.findings.duration",
}
_PARAM = {"age": "age", "pain_score": "score", "duration_days": "days"}


@dataclass(frozen=True)
class Words:
    """The catalog in one locale, with the fallbacks the console needs."""

    catalog: Catalog
    locale: str
    zone: ZoneInfo

    def __call__(self, key: str, **params: str | int) -> str:
        if not self.catalog.has(key, self.locale):
            return key
        return self.catalog.render(Text(key, tuple(params.items())), self.locale)

    def label(self, prefix: str, value: str) -> str:
        key = f"{prefix}.{value}"
        return self(key) if self.catalog.has(key, self.locale) else value.replace("_", " ")

    def sign(self, flag: str) -> str:
        return self.label("staff.sign", flag)

    def time(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def clock(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%H:%M")


def findings(pairs: tuple[tuple[str, str], ...], words: Words) -> tuple[tuple[str, ...], str | None]:
    """Sentences for what was reported (and numbers), and one sentence for what the person said no to."""
    yes: list[str] = []
    no: list[str] = []
    sentences: list[str] = []
    for name, value in pairs:
        if value in ("True", "False"):
            (yes if value == "True" else no).append(words.label("staff.finding", name))
        elif name in _NUMBERS:
            number = value[:-2] if value.endswith(".0") else value
            sentences.append(words(_NUMBERS[name], **{_PARAM[name]: number}))
        elif name == "onset" and value in ("sudden", "gradual"):
            sentences.append(words(f"staff.findings.onset.{value}"))
        elif name == "sex":
            sentences.append(words("staff.findings.sex", sex=words.label("staff.sex", value)))
        else:
            sentences.append(words("staff.findings.other", name=name.replace("_", " "), value=value))
    if yes:
        sentences.insert(0, words("staff.findings.yes", items=join_list(yes, words.locale)))
    declined = words("staff.findings.no", items=join_list(no, words.locale)) if no else None
    return tuple(sentences), declined


def waited(delta: timedelta) -> str:
    """'12 min', '3 h 5 min', '2 d 4 h': the same symbols in English and Spanish."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
