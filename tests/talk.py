"""A conversation through the real engine, flows and catalogs, driven as the shell and the check-in worker drive it,
on a clock the test moves (FixedClock): check-ins are kept as the scheduler keeps them and come due when asked."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.content.loader import Content
from bot.content.regions import PhoneRegions
from bot.storage.audit import ALLOWED_FIELDS
from bot.triage.effects import AuditRecord, CancelCheckIns, Escalate, ScheduleCheckIn, SendReply
from bot.triage.engine import Escalation, Policy, Turn, advance, new_session
from bot.triage.events import CheckInDue, Event, MessageReceived
from bot.triage.findings import Level
from bot.triage.session import SessionStatus


class Clock(Protocol):
    """What the tests' FixedClock offers (tests/conftest.py)."""

    current: datetime

    def now(self) -> datetime: ...


class Talk:
    def __init__(
        self,
        content: Content,
        clock: Clock,
        *,
        country: str | None = "US",
        locale: str = "en",
        escalation: Escalation = "off",
        emergency_number: str | None = None,
    ) -> None:
        self.content, self.clock = content, clock
        self.policy = Policy(
            countries=content.countries,
            escalation=escalation,
            emergency_number=emergency_number,
            regions=PhoneRegions(content.catalog.locales),
        )
        self.session = new_session(content.intake, clock.now(), locale, country)
        self.pending: dict[int, datetime] = {}  # check-ins as the scheduler holds them: seq -> due
        self.turns: list[Turn] = []

    def send(self, event: Event | str) -> Turn:
        if isinstance(event, str):
            event = MessageReceived(event)
        turn = advance(
            self.content.intake,
            self.session,
            event,
            self.clock.now(),
            language=self.content.language,
            policy=self.policy,
            checkin=self.content.checkin,
        )
        for effect in turn.effects:
            # The audit stream keeps only the fields it allows: a field of another name would be lost unseen.
            assert not isinstance(effect, AuditRecord) or {k for k, _ in effect.fields} <= ALLOWED_FIELDS, effect
            if isinstance(effect, CancelCheckIns):
                self.pending.clear()
            elif isinstance(effect, ScheduleCheckIn):
                self.pending[effect.seq] = effect.due_at
        self.session = turn.session
        self.turns.append(turn)
        return turn

    def answer(self, *answers: str) -> Turn:
        turn = None
        for answer in answers:
            turn = self.send(answer)
        assert turn is not None
        return turn

    def due(self) -> Turn:
        """The next check-in comes due: the clock moves to it (if it is not there yet) and the worker delivers it."""
        seq, at = min(self.pending.items(), key=lambda item: item[1])
        self.clock.current = max(self.clock.now(), at)
        del self.pending[seq]
        return self.send(CheckInDue(seq))

    def text(self, turn: Turn) -> str:
        return "\n".join(self.render(reply) for reply in turn.replies)

    def render(self, reply: SendReply) -> str:
        return "\n".join(self.content.catalog.render(p, self.session.locale) for p in reply.parts)

    @property
    def level(self) -> Level | None:
        return self.session.level

    @property
    def active(self) -> bool:
        return self.session.status is SessionStatus.active


def keys(turn: Turn) -> list[str]:
    return [p.key for r in turn.replies for p in r.parts]


def audits(turn: Turn) -> list[tuple[str, dict[str, str]]]:
    return [(e.kind, dict(e.fields)) for e in turn.effects if isinstance(e, AuditRecord)]


def escalations(turn: Turn) -> list[str]:
    return [e.level for e in turn.effects if isinstance(e, Escalate)]


def asked(turn: Turn) -> str | None:
    """The node the turn's last question asks (a flow node, or the safety question's)."""
    nodes = [r.node for r in turn.replies if r.node]
    return nodes[-1] if nodes else None
