"""A case as staff read it: level, reason and red flags in plain words, findings as sentences, clinic-local times.

Every word comes from the staff catalog (locales/<lang>/staff.yaml). An id the catalog does not know yet (a red flag
or finding added to the triage core later) is shown as the id in readable form, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.content.catalog import Catalog, join_list
from bot.storage.cases import Case
from bot.storage.casework import CaseEntry, CaseFile
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


@dataclass(frozen=True)
class CaseView:
    id: str
    level: str  # the level id, for styling
    level_words: str
    reason_words: str
    signs: tuple[str, ...]
    findings: tuple[str, ...]  # sentences: what the person reported, age, onset, duration, pain
    declined: str | None  # one sentence: what they said no to
    channel_words: str
    contact: str | None
    opened: str
    waiting: str
    status: str
    status_words: str
    acknowledged: str | None  # "by ana@... at 10:04"
    pages: int


@dataclass(frozen=True)
class EntryView:
    at: str
    words: str
    text: str | None


def case_view(case: Case, words: Words, now: datetime) -> CaseView:
    acknowledged = None
    if case.acknowledged_by and case.acknowledged_at:
        acknowledged = words(
            "staff.console.acknowledged_by", who=case.acknowledged_by, time=words.clock(case.acknowledged_at)
        )
    found, declined = findings(case.findings, words)
    return CaseView(
        id=case.id,
        level=case.level,
        level_words=words.label("staff.level", case.level),
        reason_words=words.label("staff.reason", case.reason),
        signs=tuple(words.sign(f) for f in case.red_flags),
        findings=found,
        declined=declined,
        channel_words=words.label("staff.channel", case.channel),
        contact=case.contact,
        opened=words.time(case.opened_at),
        waiting=waited(now - case.opened_at),
        status=case.status,
        status_words=words.label("staff.status", case.status),
        acknowledged=acknowledged,
        pages=case.pages,
    )


def entry_view(entry: CaseEntry, words: Words) -> EntryView:
    via = words.label("staff.console.via", entry.via)
    if entry.kind == "acknowledged":
        text = words("staff.console.history.acknowledged", who=entry.by, via=via)
    elif entry.kind == "resolved":
        outcome = words.label("staff.outcome", entry.outcome or "")
        text = words("staff.console.history.resolved", who=entry.by, via=via, outcome=outcome)
    else:
        text = words("staff.console.history.note", who=entry.by)
    return EntryView(words.time(entry.at), text, entry.text)


def file_outcome(case_file: CaseFile, words: Words) -> str | None:
    return words.label("staff.outcome", case_file.outcome) if case_file.outcome else None


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
