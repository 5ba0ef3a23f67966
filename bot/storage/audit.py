"""The audit trail: a Redis stream of what kneebot decided and did, capped, with no message text or identifiers.

Each entry is a kind (assessment, interrupt, checkin_sent, checkin_answered, escalation_opened, page_sent, ...) and a
few fields that are facts about the decision (rule ids, flow version, level, red-flag ids, a case id), never the
person's words, number, chat id or participant id. The cap (AUDIT_MAX_EVENTS) is approximate (`MAXLEN ~`), so Redis
trims whole macro-nodes cheaply.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime

import redis.asyncio

from bot.storage import keys
from bot.storage.schedule import from_millis
from bot.storage.scripts import Batch

# Fields an audit entry may carry: anything else is dropped, so an identifier can't slip in by a new call site.
ALLOWED_FIELDS = frozenset(
    {"level", "rules", "flow", "interrupt", "flags", "seq", "answer", "reason", "case", "page", "target", "status",
     "channel", "outcome", "count", "node", "times", "recorded", "consent", "pages"}
)  # fmt: skip


class AuditLog:
    def __init__(self, client: redis.asyncio.Redis, max_events: int = 1_000_000) -> None:
        self.client, self.max_events = client, max_events

    async def record(self, kind: str, fields: Mapping[str, str], now: datetime) -> None:
        fields_ = entry(kind, fields, now)
        await self.client.xadd(keys.audit(), fields_, maxlen=self.max_events, approximate=True)  # type: ignore[arg-type]

    async def export(self, *, since: datetime | None = None, batch: int = 1000) -> AsyncIterator[dict[str, str]]:
        """Every entry, oldest first, as a flat dict with its stream id and time."""
        start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
        while True:
            rows = await self.client.xrange(keys.audit(), min=start, max="+", count=batch) or []
            for raw_id, raw in rows:
                entry_id = _text(raw_id)
                yield {"id": entry_id, **{_text(k): _text(v) for k, v in (raw or {}).items()}}
            if len(rows) < batch:
                return
            start = "(" + _text(rows[-1][0])

    async def newest_first(self, *, batch: int = 1000) -> AsyncIterator[dict[str, str]]:
        """Every entry, newest first (the caller stops when it has gone back far enough), as `export` gives them."""
        end = "+"
        while True:
            rows = await self.client.xrevrange(keys.audit(), max=end, min="-", count=batch) or []
            for raw_id, raw in rows:
                yield {"id": _text(raw_id), **{_text(k): _text(v) for k, v in (raw or {}).items()}}
            if len(rows) < batch:
                return
            end = "(" + _text(rows[-1][0])

    def args(self, kind: str, fields: Mapping[str, str], now: datetime) -> list[str | int | bytes]:
        """The entry as a script's arguments (the cap, then field, value, ...), for a change that writes its own."""
        flat: list[str | int | bytes] = [self.max_events]
        for name, value in entry(kind, fields, now).items():
            flat += [name, value]
        return flat

    def add_to(self, batch: Batch, kind: str, fields: Mapping[str, str], now: datetime) -> None:
        batch.xadd(keys.audit(), entry(kind, fields, now), self.max_events)

    async def length(self) -> int:
        return int(await self.client.xlen(keys.audit()))


def entry(kind: str, fields: Mapping[str, str], now: datetime) -> dict[str, str]:
    kept = {"kind": kind, "at": now.isoformat(timespec="seconds")}
    kept.update({k: v for k, v in fields.items() if k in ALLOWED_FIELDS})
    return kept


def as_json_line(row: Mapping[str, str]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def stream_time(entry_id: str) -> datetime:
    return from_millis(int(entry_id.split("-", 1)[0]))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
