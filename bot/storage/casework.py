"""What staff do with a case beyond its status: the outcome, who resolved it, private notes and, once a person
has consented to a handoff, the messages exchanged with them.

Acknowledge and resolve go through CaseStore's own scripts, so every route (console, Telegram button, on-call SMS)
changes a case the same way; what this adds is written just after, and only by the call that made the change.
The log (`case-log:{id}`) lives on the case's slot and expires with a resolved case; the messages
(`case-messages:{id}`) expire the retention period (HANDOFF_RETENTION) after the last one, and the person's index of
handoffs (`handoffs:{p}`) lets DELETE find them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage import keys
from bot.storage.cases import Case, CaseStore
from bot.storage.schedule import from_millis, millis
from bot.storage.scripts import Script

OUTCOMES = ("reached", "advised", "no_answer", "duplicate")
MAX_NOTE = 2000  # characters
MAX_LOG = 500  # entries a case's log may hold; a note past it is refused, never an older entry dropped
STATUS_ROOM = MAX_LOG + 2  # an acknowledgement and a resolution are always recorded, however many notes
MAX_MESSAGES = 1000  # per case, the newest
MAX_TEXT = 4096  # characters of one message (Telegram's own limit)


@dataclass(frozen=True)
class CaseEntry:
    at: datetime
    kind: str  # acknowledged | resolved | note
    by: str
    via: str  # console | telegram | sms (a staff chat's button, an on-call number's text)
    outcome: str | None = None
    text: str | None = None  # a note's text (staff's words, shown to staff only; never logged or audited)


@dataclass(frozen=True)
class CaseMessage:
    at: datetime
    sender: str  # person | staff
    by: str | None  # the staff member, for a staff reply
    text: str


@dataclass(frozen=True)
class CaseFile:
    case: Case
    outcome: str | None
    resolved_by: str | None
    log: tuple[CaseEntry, ...]


_RECORD, _MESSAGE, _SHARE = Script("case_log"), Script("case_message"), Script("share_message")
_CASE_PREFIX = keys.case("x")[: -len("x}")]
_MESSAGES_PREFIX = keys.case_messages("x")[: -len("x}")]


class CaseDesk:
    """The staff side of cases, over CaseStore: list, look, acknowledge, resolve with an outcome, note."""

    def __init__(self, cases: CaseStore) -> None:
        self.cases, self.client = cases, cases.client

    async def open_cases(self) -> list[Case]:
        """Unresolved cases, oldest first."""
        return await self.cases.unresolved()

    async def file(self, case_id: str) -> CaseFile | None:
        case = await self.cases.get(case_id)
        if case is None:
            return None
        outcome, resolved_by = (
            _maybe(v) for v in await self.client.hmget(keys.case(case_id), "outcome", "resolved_by")
        )
        raw = await self.client.lrange(keys.case_log(case_id), 0, -1)
        return CaseFile(case, outcome, resolved_by, tuple(_entry(json.loads(r)) for r in raw))

    async def acknowledge(self, case_id: str, who: str, via: str, now: datetime) -> str:
        """The status before, as CaseStore.acknowledge: 'open' means this call acknowledged it (and logged it)."""
        before = await self.cases.acknowledge(case_id, who, now)
        if before == "open":
            await self._record(case_id, CaseEntry(now, "acknowledged", who, via), {}, STATUS_ROOM)
        return before

    async def resolve(self, case_id: str, who: str, outcome: str | None, via: str, now: datetime) -> str:
        """The status before, as CaseStore.resolve; the outcome (None: not given, as by a button or a text) is kept
        only by the call that resolved the case."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        before = await self.cases.resolve(case_id, who, now)
        if before not in ("resolved", "missing"):
            entry = CaseEntry(now, "resolved", who, via, outcome=outcome)
            fields = {"resolved_by": who} | ({"outcome": outcome} if outcome else {})
            await self._record(case_id, entry, fields, STATUS_ROOM)
        return before

    async def note(self, case_id: str, who: str, text: str, via: str, now: datetime) -> str:
        """'noted', 'missing' or 'full'."""
        clean = text.strip()[:MAX_NOTE]
        if not clean:
            raise ValueError("a note needs some text")
        recorded = await self._record(case_id, CaseEntry(now, "note", who, via, text=clean), {}, MAX_LOG)
        return {1: "noted", 0: "missing"}.get(recorded, "full")

    async def add_message(self, case: Case, message: CaseMessage, keep: timedelta) -> bool:
        """A message of a handoff (a staff reply), kept for `keep` (the retention setting) after the last one: only
        while the case still reaches the person (not resolved, not deleted)."""
        if case.reach is None or not case.participant:
            return False
        names = [keys.case(case.id), keys.case_messages(case.id), keys.handoffs(case.participant)]
        args: list[str | int | bytes] = [case.id, _message_json(message), MAX_MESSAGES, _ms(keep)]
        return bool(await _MESSAGE(self.client, names, args) == 1)

    async def share(self, participant: str, message: CaseMessage, keep: timedelta) -> str | None:
        """A message the person wrote while talking to staff, kept with their open handoff case: its id, or None
        when they have none (staff closed it meanwhile)."""
        names = [keys.open_case(participant), keys.handoffs(participant)]
        args: list[str | int | bytes] = [
            _CASE_PREFIX, _MESSAGES_PREFIX, _message_json(message), MAX_MESSAGES, _ms(keep)
        ]  # fmt: skip
        found = await _SHARE(self.client, names, args)
        return _maybe(found) if found else None

    async def messages(self, case_id: str) -> list[CaseMessage]:
        raw = [json.loads(r) for r in await self.client.lrange(keys.case_messages(case_id), 0, -1)]
        return [CaseMessage(from_millis(r["at"]), r["sender"], r.get("by"), r["text"]) for r in raw]

    async def _record(self, case_id: str, entry: CaseEntry, fields: dict[str, str], limit: int) -> int:
        body = {"at": millis(entry.at), "kind": entry.kind, "by": entry.by, "via": entry.via}
        if entry.outcome is not None:
            body["outcome"] = entry.outcome
        if entry.text is not None:
            body["text"] = entry.text
        names = [keys.case(case_id), keys.case_log(case_id)]
        args: list[str | int | bytes] = [json.dumps(body, ensure_ascii=False), json.dumps(fields), limit]
        result = await _RECORD(self.client, names, args)
        assert isinstance(result, int)
        return result


def _message_json(message: CaseMessage) -> str:
    body = {"at": millis(message.at), "sender": message.sender, "by": message.by, "text": message.text[:MAX_TEXT]}
    return json.dumps(body, ensure_ascii=False)


def _ms(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


def _entry(raw: dict[str, object]) -> CaseEntry:
    at = raw.get("at")
    return CaseEntry(
        at=from_millis(at if isinstance(at, int | float) else 0),
        kind=str(raw.get("kind", "")),
        by=str(raw.get("by", "")),
        via=str(raw.get("via", "")),
        outcome=str(raw["outcome"]) if raw.get("outcome") else None,
        text=str(raw["text"]) if raw.get("text") is not None else None,
    )


def _maybe(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
