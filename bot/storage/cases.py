"""Cases for the clinic's staff: opened by an escalation, paged until a person acknowledges, then resolved.

A case is a Redis hash (`case:{id}`) so that the pager (which counts pages) and a staff member (who acknowledges) each
change only their own fields and never overwrite the other's. Unresolved cases are listed in `cases`; cases waiting for
a (re-)page are scheduled in `pages` (a leased schedule, like check-ins). A person has at most one unresolved case at a
time (`open-case:{p}`): another escalation updates it, and pages again only when the level went up.

A case holds no name, number or message text, only: level, reason, red flags, key findings, the channel, and, when
the deployment enables it (ESCALATION_SHARE_CONTACT), the number to call back. A handoff (the person asked for a person
and agreed to share their contact and messages) adds where to reach them on their channel, and their messages are
kept beside the case (casework.py). The participant id, the number and where to reach them go when the case is
resolved, and when the person deletes their data (`forget`): the case then stays for staff to see, marked as deleted,
and its next page becomes one last notice instead.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio

from bot.storage import keys
from bot.storage.checkins import Address
from bot.storage.schedule import Claim, LeasedSchedule, from_millis, millis
from bot.storage.scripts import Script
from bot.triage.findings import Level

RESOLVED_KEEP = timedelta(days=90)  # without the number or the participant id
_CASE_PREFIX = keys.case("x")[: -len("x}")]  # "kneebot:v1:case:{": scripts append the id and "}"
_MESSAGES_PREFIX = keys.case_messages("x")[: -len("x}")]
MAX_CARDS = 20  # staff chat messages remembered per case (one per page: fewer than the pages a case can have)
LEVELS = {level.value: rank for rank, level in enumerate(sorted(Level))}


@dataclass(frozen=True)
class Case:
    id: str
    level: str
    reason: str
    red_flags: tuple[str, ...]
    findings: tuple[tuple[str, str], ...]
    channel: str
    opened_at: datetime
    status: str  # open | acknowledged | resolved
    pages: int
    participant: str
    contact: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    deleted_at: datetime | None = None  # the person deleted their data: no contact, no participant, no more pages
    handoff: bool = False  # the person consented to talk to staff here (their messages are kept with the case)
    reach: Address | None = None  # where a staff reply reaches them: only with their consent, until resolved
    locale: str | None = None  # the language the person writes in (a handoff's)
    cards: tuple[int, ...] = ()  # the staff chat's messages that show the case, to redraw when it moves on


_OPEN, _ACKNOWLEDGE, _RESOLVE = Script("open_case"), Script("acknowledge_case"), Script("resolve_case")
_FORGET, _PAGED, _CARD = Script("forget_case"), Script("case_paged"), Script("case_card")


def new_case_id() -> str:
    """Short, unambiguous and random: staff read it out ("case K7QF2M") and type it in an SMS reply."""
    return "K" + base64.b32encode(secrets.token_bytes(5)).decode()[:6]


class CaseStore:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self.schedule = LeasedSchedule(client, keys.pages())

    async def open(
        self,
        participant: str,
        *,
        level: str,
        reason: str,
        red_flags: tuple[str, ...],
        findings: tuple[tuple[str, str], ...],
        channel: str,
        contact: str | None,
        now: datetime,
        keep: timedelta = timedelta(days=30),
        reach: Address | None = None,
        locale: str | None = None,
        retention: timedelta = timedelta(days=30),
    ) -> tuple[str, str]:
        """(case id, what happened: opened | raised | same). `raised`: an open case's level went up; it pages again.
        `reach`: a handoff the person consented to (the case, new or the open one, keeps where to reach them, in
        `locale`); `retention`: how long the person's index of handoffs lasts."""
        case_id = new_case_id()
        fields: dict[str, str | int] = {
            "id": case_id,
            "level": level,
            "rank": LEVELS.get(level, -1),
            "reason": reason,
            "red_flags": ",".join(red_flags),
            "findings": json.dumps(dict(findings), separators=(",", ":")),
            "channel": channel,
            "opened_at": millis(now),
            "status": "open",
            "pages": 0,
            "participant": participant,
        }
        if contact:
            fields["contact"] = contact
        if reach is not None:
            fields |= {"handoff": "1", "reach_channel": reach.channel, "reach_to": reach.to, "locale": locale or ""}
        names = [
            keys.case(case_id), keys.cases(), keys.pages(), keys.open_case(participant), keys.handoffs(participant)
        ]  # fmt: skip
        args: list[str | int | bytes] = [case_id, json.dumps(fields), millis(now), int(keep.total_seconds() * 1000)]
        raw = await _OPEN(self.client, names, [*args, _CASE_PREFIX, int(retention.total_seconds() * 1000)])
        assert isinstance(raw, list)
        found, what = (_text(v) for v in raw)
        return found, what

    async def get(self, case_id: str) -> Case | None:
        raw = await self.client.hgetall(keys.case(case_id))
        return _decode({_text(k): _text(v) for k, v in raw.items()}) if raw else None

    async def unresolved(self) -> list[Case]:
        ids = [_text(i) for i in await self.client.zrange(keys.cases(), 0, -1)]
        found = [await self.get(i) for i in ids]
        return [c for c in found if c is not None]

    async def resolved(self) -> list[Case]:
        """Resolved cases still kept (RESOLVED_KEEP), by when they were resolved, oldest first."""
        ids = [_text(i) for i in await self.client.zrange(keys.resolved_cases(), 0, -1)]
        found = [await self.get(i) for i in ids]
        return [c for c in found if c is not None]

    async def add_card(self, case_id: str, message_id: int) -> None:
        """A staff chat message now shows this case (a page's card)."""
        await _CARD(self.client, [keys.case(case_id)], [message_id, MAX_CARDS])

    async def acknowledge(self, case_id: str, who: str, now: datetime) -> str:
        """The status before: 'open' (now acknowledged), 'acknowledged', 'resolved' or 'missing'."""
        names = [keys.case(case_id), keys.pages()]
        return _text(await _ACKNOWLEDGE(self.client, names, [case_id, who, millis(now)]))

    async def resolve(self, case_id: str, who: str, now: datetime) -> str:
        case = await self.get(case_id)
        # A case forgotten (its person deleted their data) names no participant, and has no open-case pointer left.
        owner = case.participant if case is not None and case.participant else "-"
        names = [keys.case(case_id), keys.pages(), keys.cases(), keys.open_case(owner), keys.resolved_cases()]
        keep = int(RESOLVED_KEEP.total_seconds() * 1000)
        return _text(await _RESOLVE(self.client, names, [case_id, who, millis(now), keep]))

    async def forget(self, participant: str, now: datetime) -> str | None:
        """The person deleted their data: their unresolved case (its id, if any) keeps nothing about them, and no case
        keeps the messages they exchanged with staff."""
        names = [keys.open_case(participant), keys.pages(), keys.handoffs(participant)]
        raw = await _FORGET(self.client, names, [_CASE_PREFIX, millis(now), _MESSAGES_PREFIX])
        return None if raw is None else _text(raw)

    async def claim_pages(self, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        return await self.schedule.claim(now, lease, limit)

    async def paged(self, claim: Claim, next_page: datetime) -> int:
        """Record one page sent and schedule the next (if still unacknowledged); the pages sent so far, or -1 when
        this claim had lapsed."""
        names = [keys.case(claim.id), keys.pages()]
        return _int(await _PAGED(self.client, names, [claim.id, claim.lease, millis(next_page)]))

    async def drop_page(self, claim: Claim) -> None:
        await self.schedule.finish(claim)


def _decode(raw: dict[str, str]) -> Case:
    def at(name: str) -> datetime | None:
        return from_millis(int(raw[name])) if raw.get(name) else None

    return Case(
        id=raw["id"],
        level=raw.get("level", ""),
        reason=raw.get("reason", ""),
        red_flags=tuple(dict.fromkeys(f for f in raw.get("red_flags", "").split(",") if f)),
        findings=tuple(json.loads(raw.get("findings") or "{}").items()),
        channel=raw.get("channel", ""),
        opened_at=from_millis(int(raw.get("opened_at", "0"))),
        status=raw.get("status", "open"),
        pages=int(raw.get("pages", "0")),
        participant=raw.get("participant", ""),
        contact=raw.get("contact"),
        acknowledged_by=raw.get("acknowledged_by"),
        acknowledged_at=at("acknowledged_at"),
        resolved_at=at("resolved_at"),
        deleted_at=at("deleted_at"),
        handoff=raw.get("handoff") == "1",
        reach=Address(channel=raw["reach_channel"], to=raw["reach_to"]) if raw.get("reach_to") else None,
        locale=raw.get("locale") or None,
        cards=tuple(int(c) for c in raw.get("cards", "").split(",") if c.isdigit()),
    )


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
