"""What staff do with a case beyond its status: the outcome, who resolved it, private notes and, once a person
has consented to a handoff, the messages exchanged with them (phase 2 of #18).

Acknowledge and resolve go through CaseStore's own scripts, so every route (console, Telegram button, on-call SMS)
changes a case the same way; what this adds is written just after, and only by the call that made the change.
The log (`case-log:{id}`) and messages (`case-messages:{id}`) live on the case's slot and expire with a resolved case.
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
MAX_MESSAGES = 1000


@dataclass(frozen=True)
class CaseEntry:
    at: datetime
    kind: str  # acknowledged | resolved | note
    by: str
    via: str  # console | telegram | sms
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


_RECORD, _MESSAGE = Script("case_log"), Script("case_message")


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

    async def resolve(self, case_id: str, who: str, outcome: str, via: str, now: datetime) -> str:
        """The status before, as CaseStore.resolve; the outcome is kept only by the call that resolved the case."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        before = await self.cases.resolve(case_id, who, now)
        if before not in ("resolved", "missing"):
            entry = CaseEntry(now, "resolved", who, via, outcome=outcome)
            await self._record(case_id, entry, {"outcome": outcome, "resolved_by": who}, STATUS_ROOM)
        return before

    async def note(self, case_id: str, who: str, text: str, via: str, now: datetime) -> str:
        """'noted', 'missing' or 'full'."""
        clean = text.strip()[:MAX_NOTE]
        if not clean:
            raise ValueError("a note needs some text")
        recorded = await self._record(case_id, CaseEntry(now, "note", who, via, text=clean), {}, MAX_LOG)
        return {1: "noted", 0: "missing"}.get(recorded, "full")

    async def add_message(self, case_id: str, message: CaseMessage, keep: timedelta) -> bool:
        """Phase 2 (#18): a message of a consented handoff, kept for `keep` (the retention setting)."""
        body = json.dumps(
            {"at": millis(message.at), "sender": message.sender, "by": message.by, "text": message.text},
            ensure_ascii=False,
        )
        names = [keys.case(case_id), keys.case_messages(case_id)]
        args: list[str | int | bytes] = [body, MAX_MESSAGES, int(keep.total_seconds() * 1000)]
        return bool(await _MESSAGE(self.client, names, args) == 1)

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
