"""A case as the console shows it: level, reason and red flags in plain words, findings as sentences, clinic-local
times (the words: bot/shell/wording.py, shared with the staff chat's card and the on-call page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.shell.wording import Words, findings, waited
from bot.storage.cases import Case
from bot.storage.casework import CaseEntry, CaseFile, CaseMessage


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
    handoff: bool  # the person consented to talk to staff: the conversation is shown
    reachable: bool  # and a reply reaches them (not resolved, not deleted)
    deleted: bool


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
        handoff=case.handoff,
        reachable=case.reach is not None and case.status != "resolved",
        deleted=case.deleted_at is not None,
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


@dataclass(frozen=True)
class MessageView:
    at: str
    sender: str  # person | staff, for styling
    who: str
    text: str


def message_view(message: CaseMessage, words: Words) -> MessageView:
    who = words("staff.console.talk.person") if message.sender == "person" else (message.by or "?")
    return MessageView(words.clock(message.at), message.sender, who, message.text)


def file_outcome(case_file: CaseFile, words: Words) -> str | None:
    return words.label("staff.outcome", case_file.outcome) if case_file.outcome else None


__all__ = [
    "CaseView", "EntryView", "MessageView", "Words",
    "case_view", "entry_view", "file_outcome", "findings", "message_view", "waited",
]  # fmt: skip
