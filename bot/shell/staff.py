"""The clinic staff's side of a case: the page they get, and their Acknowledge / Resolve answers.

A page goes to the staff Telegram chat (a card with Acknowledge and Resolve buttons) and by SMS to the on-call
number whose turn it is (first page and first re-page: the first number; then each re-page the next one, staying on
the last). Staff acknowledge by button, or by texting "ACK <case>" (and "RESOLVE <case>") from an on-call number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot.channels.base import Button, Message
from bot.content.catalog import Catalog
from bot.storage.audit import AuditLog
from bot.storage.cases import Case, CaseStore
from bot.storage.checkins import Address
from bot.triage.effects import Text
from bot.triage.events import ChoiceSelected, Event, MessageReceived

T = TypeVar("T")
_SMS_ACTION = re.compile(r"^\s*(ack|acknowledge|resolve|resolved)\s+#?(k[a-z2-7]{6})\s*$", re.IGNORECASE)
_BUTTON = re.compile(r"^case:(ack|resolve):(K[A-Z2-7]{6})$")


@dataclass(frozen=True)
class StaffTargets:
    """Where staff are paged, and the addresses whose messages are staff answering a case (with who they are)."""

    chat: Address | None  # the staff group, on Telegram
    oncall: tuple[Address, ...]  # the on-call numbers, by SMS, in paging order

    def who(self, channel: str, to: str, name: str | None) -> str | None:
        """Who answered a case from this address ("on-call 2", a staff member's first name), or None: not staff."""
        if self.chat is not None and (channel, to) == (self.chat.channel, self.chat.to):
            return name or "staff"
        for number, oncall in enumerate(self.oncall, start=1):
            if (channel, to) == (oncall.channel, oncall.to):
                return f"on-call {number}"
        return None


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


def oncall_for_page(page: int, numbers: tuple[T, ...]) -> T | None:
    """Page 0 and the first re-page go to the first number, each later re-page to the next, staying on the last."""
    if not numbers:
        return None
    return numbers[min(max(page - 1, 0), len(numbers) - 1)]


def card(case: Case, catalog: Catalog, locale: str) -> Message:
    """The staff chat's card for a case: the summary, its status, and the buttons that still apply."""
    text = summary(case, catalog, locale)
    if case.deleted_at is not None:
        text += "\n" + catalog.render(Text("staff.deleted", (("case", case.id),)), locale)
    if case.status == "acknowledged":
        text += "\n" + catalog.render(Text("staff.acknowledged", (("who", case.acknowledged_by or "?"),)), locale)
    elif case.status == "resolved":
        text += "\n" + catalog.render(Text("staff.resolved", (("who", case.acknowledged_by or "?"),)), locale)
    buttons: list[Button] = []
    if case.status == "open":
        buttons.append(Button(catalog.raw("staff.button.ack", locale), f"case:ack:{case.id}"))
    if case.status != "resolved":
        buttons.append(Button(catalog.raw("staff.button.resolve", locale), f"case:resolve:{case.id}"))
    return Message(text, tuple(buttons))


def summary(case: Case, catalog: Catalog, locale: str) -> str:
    """Level, reason, red flags and key findings: no name, and no number unless the deployment shares it."""
    params: tuple[tuple[str, str | int], ...] = (
        ("case", case.id),
        ("level", case.level),
        ("reason", case.reason),
        ("flags", ", ".join(case.red_flags) or "-"),
        ("findings", ", ".join(f"{k}={v}" for k, v in case.findings[:8]) or "-"),
        ("channel", case.channel),
        ("opened", case.opened_at.strftime("%Y-%m-%d %H:%M UTC")),
    )
    text = catalog.render(Text("staff.case", params), locale)
    if case.contact:
        text += "\n" + catalog.render(Text("staff.contact", (("contact", case.contact),)), locale)
    return text


def sms_page(case: Case, catalog: Catalog, locale: str) -> Message:
    """The on-call page: the summary, and how to answer it by text."""
    reply = catalog.render(Text("staff.sms_reply", (("case", case.id),)), locale)
    return Message(summary(case, catalog, locale) + "\n" + reply)


def deletion_notice(case: Case, catalog: Catalog, locale: str) -> Message:
    """Instead of a page: the person deleted their data, so there is no one to call back and no more pages."""
    return Message(catalog.render(Text("staff.deleted", (("case", case.id),)), locale))


def staff_action(event: Event | None) -> StaffAction | None:
    """A staff member's answer to a case: a button pressed on its card, or "ACK <case>" written."""
    if isinstance(event, ChoiceSelected):
        return parse_button(f"{event.node}:{event.choice}")
    if isinstance(event, MessageReceived):
        return parse_sms(event.text)
    return None


async def act(cases: CaseStore, audit: AuditLog, action: StaffAction, who: str, now: datetime) -> str:
    """Apply an Acknowledge or Resolve; the status before (so a second press can say "already acknowledged").
    Pressing twice is harmless: only the first press changes anything."""
    if action.action == "ack":
        before = await cases.acknowledge(action.case_id, who, now)
        if before == "open":
            await audit.record("escalation_acknowledged", {"case": action.case_id}, now)
    else:
        before = await cases.resolve(action.case_id, who, now)
        if before not in ("resolved", "missing"):
            await audit.record("escalation_resolved", {"case": action.case_id}, now)
    return before
