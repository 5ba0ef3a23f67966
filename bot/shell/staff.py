"""The clinic staff's side of a case: the page they get, and their Acknowledge / Resolve answers.

A page goes to the staff Telegram chat (a card with Acknowledge and Resolve buttons) and by SMS to the on-call
number whose turn it is: each number gets `per_contact` pages, one deadline apart, then the next number does; after
the last number's pages one final notice goes to the chat and every number, and the pages stop (the case stays open
in the console). Staff acknowledge by button, or by texting "ACK <case>" (and "RESOLVE <case>") from an on-call
number; anything else from an on-call number gets a short help reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot.channels.base import Button, Message
from bot.shell.wording import Words, findings, waited
from bot.storage.cases import Case
from bot.storage.checkins import Address
from bot.triage.events import ChoiceSelected, Event, MessageReceived

T = TypeVar("T")
_SMS_ACTION = re.compile(r"^\s*(ack|acknowledge|resolve|resolved)\s+#?(k[a-z2-7]{6})\s*$", re.IGNORECASE)
_BUTTON = re.compile(r"^case:(ack|resolve):(K[A-Z2-7]{6})$")


@dataclass(frozen=True)
class StaffTargets:
    """Where staff are paged, and the addresses whose messages are staff answering a case (with who they are)."""

    chat: Address | None  # the staff group, on Telegram
    oncall: tuple[Address, ...]  # the on-call numbers, by SMS, in paging order
    per_contact: int = 2  # pages each on-call number gets before the next one is paged

    def who(self, channel: str, to: str, name: str | None) -> str | None:
        """Who answered a case from this address ("on-call 2", a staff member's first name), or None: not staff."""
        if self.chat is not None and (channel, to) == (self.chat.channel, self.chat.to):
            return name or "staff"
        number = self.oncall_number(channel, to)
        return f"on-call {number}" if number is not None else None

    def oncall_number(self, channel: str, to: str) -> int | None:
        """The on-call number's place in the paging order (1 for the first), or None: not an on-call number."""
        for number, oncall in enumerate(self.oncall, start=1):
            if (channel, to) == (oncall.channel, oncall.to):
                return number
        return None

    @property
    def pages(self) -> int:
        """How many pages a case gets before the final notice: `per_contact` for each on-call number (for the staff
        chat alone, when there is none)."""
        return self.per_contact * max(1, len(self.oncall))

    def oncall_for_page(self, page: int) -> Address | None:
        """The on-call number page `page` (1 for the first) goes to; None past the last one's pages."""
        if page < 1 or page > self.pages or not self.oncall:
            return None
        return self.oncall[(page - 1) // self.per_contact]


@dataclass(frozen=True)
class StaffAction:
    action: str  # ack | resolve
    case_id: str


def parse_button(data: str) -> StaffAction | None:
    found = _BUTTON.fullmatch(data)
    return StaffAction(found[1], found[2]) if found else None


def parse_sms(body: str) -> StaffAction | None:
    found = _SMS_ACTION.fullmatch(body)
    if found is None:
        return None
    return StaffAction("ack" if found[1].lower().startswith("ack") else "resolve", found[2].upper())


def staff_action(event: Event | None) -> StaffAction | None:
    """A staff member's answer to a case: a button pressed on its card, or "ACK <case>" written."""
    if isinstance(event, ChoiceSelected):
        return parse_button(f"{event.node}:{event.choice}")
    if isinstance(event, MessageReceived):
        return parse_sms(event.text)
    return None


@dataclass(frozen=True)
class Paged:
    """Which page this is, of how many, and how long the case has waited by then."""

    page: int
    of: int
    now: datetime


def summary(case: Case, words: Words) -> str:
    """Level, reason, red flags and key findings in staff's words, the time in the clinic's zone: no name, and no
    number unless the deployment shares it or the person consented."""
    opened = case.opened_at.astimezone(words.zone)
    text = words(
        "staff.case",
        case=case.id,
        level=words.label("staff.level", case.level),
        reason=words.label("staff.reason", case.reason),
        flags="; ".join(words.sign(f) for f in case.red_flags) or words("staff.console.none"),
        channel=words.label("staff.channel", case.channel),
        opened=f"{opened.strftime('%H:%M')} {opened.tzname() or words.zone.key}",
    )
    said, declined = findings(case.findings, words)
    lines = [text, *([" ".join(said)] if said else []), *([declined] if declined else [])]
    if case.handoff:
        lines.append(words("staff.handoff", case=case.id))
    if case.contact:
        lines.append(words("staff.contact", contact=case.contact))
    return "\n".join(lines)


def page_line(case: Case, paged: Paged, words: Words) -> str:
    return words("staff.page", page=paged.page, pages=paged.of, waited=waited(paged.now - case.opened_at))


def card(case: Case, words: Words, paged: Paged | None = None) -> Message:
    """The staff chat's card for a case: the summary, which page it is, its status, and the buttons that still
    apply. Redrawn (without the page line) whenever the case moves on, by any route."""
    text = summary(case, words)
    if paged is not None:
        text += "\n" + page_line(case, paged, words)
    if case.deleted_at is not None:
        text += "\n" + words("staff.deleted", case=case.id)
    if case.status == "acknowledged":
        text += "\n" + words("staff.acknowledged", who=case.acknowledged_by or "?")
    elif case.status == "resolved":
        text += "\n" + words("staff.resolved", who=case.acknowledged_by or "?")
    buttons: list[Button] = []
    if case.status == "open":
        buttons.append(Button(words("staff.button.ack"), f"case:ack:{case.id}"))
    if case.status != "resolved":
        buttons.append(Button(words("staff.button.resolve"), f"case:resolve:{case.id}"))
    return Message(text, tuple(buttons))


def sms_page(case: Case, words: Words, paged: Paged) -> Message:
    """The on-call page: the summary, which page it is, and how to answer it by text."""
    return Message(
        "\n".join([summary(case, words), page_line(case, paged, words), words("staff.sms_reply", case=case.id)])
    )


def last_notice(case: Case, words: Words, paged: Paged) -> Message:
    """After the last page: nobody acknowledged, and no more pages will come."""
    return Message(words("staff.page.last", case=case.id, pages=paged.of, waited=waited(paged.now - case.opened_at)))


def deletion_notice(case: Case, words: Words) -> Message:
    """Instead of a page: the person deleted their data, so there is no one to call back and no more pages."""
    return Message(words("staff.deleted", case=case.id))
