"""Applies the engine's follow-up effects in Redis: check-ins scheduled and cancelled, cases opened (and forgotten on
DELETE), audit entries.

The web server and the worker both use it (through ConversationService), so a check-in answered "worse" schedules,
escalates and audits exactly as a first conversation does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.channels.base import Channels
from bot.clock import Clock
from bot.shell.scheduling import QuietHours, defer_for_quiet_hours, zone_for
from bot.storage.audit import AuditLog
from bot.storage.cases import CaseStore
from bot.storage.casework import CaseDesk, CaseMessage
from bot.storage.checkins import Address, CheckIn, CheckInStore
from bot.storage.scripts import Batch
from bot.triage.effects import (
    AuditRecord,
    CancelCheckIns,
    DeleteData,
    Effect,
    Escalate,
    ScheduleCheckIn,
    ShareWithStaff,
)
from bot.triage.engine import Escalation
from bot.triage.session import Session

log = logging.getLogger("kneebot.followup")


@dataclass(frozen=True)
class FollowUpPolicy:
    """What the settings decide about follow-up: who hears of an escalation, and when check-ins may go out."""

    escalation: Escalation
    default_time_zone: str  # for people whose phone number does not tell (and Telegram users)
    quiet: QuietHours | None
    retention: timedelta = timedelta(days=30)  # HANDOFF_RETENTION: a handoff's messages, after the last one


class RedisFollowUp:
    """The EffectSink of a deployment with Redis."""

    def __init__(
        self,
        policy: FollowUpPolicy,
        checkins: CheckInStore,
        cases: CaseStore,
        audit: AuditLog,
        clock: Clock,
        channels: Channels,
    ) -> None:
        self.policy, self.checkins, self.cases, self.audit, self.clock = policy, checkins, cases, audit, clock
        self.channels = channels
        self.desk = CaseDesk(cases)

    def phone(self, address: Address | None) -> str | None:
        """The person's phone number, when their channel's address is one (their time zone, a number to call)."""
        channel = self.channels.get(address.channel) if address is not None else None
        return channel.phone(address.to) if channel is not None and address is not None else None

    def carried(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> Batch | None:
        """What the turn's commit carries, in order: audit entries, check-ins cancelled and scheduled."""
        if not effects:  # most turns: a question answered, nothing set in motion
            return None
        now = self.clock.now()
        batch = Batch()
        zone: ZoneInfo | None = None  # the person's, worked out once for all the turn's check-ins
        for effect in effects:
            if isinstance(effect, AuditRecord):
                fields = dict(effect.fields)
                if address is not None:
                    fields["channel"] = address.channel
                self.audit.add_to(batch, effect.kind, fields, now)
            elif isinstance(effect, CancelCheckIns):
                entry = self.audit.args("checkins_cancelled", {"reason": effect.reason}, now)
                self.checkins.cancel_to(batch, participant, entry)
            elif isinstance(effect, ScheduleCheckIn) and address is not None:  # no address: a terminal chat
                if zone is None:
                    zone = zone_for(self.phone(address), session.country, self.policy.default_time_zone, now=now)
                self.schedule(batch, participant, session, effect, address, zone, now)
        return batch if len(batch) else None

    async def escalate(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> bool:
        """The turn's escalations, before its commit (they need their case id back, and the reply says whether the
        clinic team was told): True when a case is stored."""
        if self.policy.escalation == "off":
            return False
        now = self.clock.now()
        stored = False
        for effect in effects:
            if isinstance(effect, Escalate):
                await self.open_case(participant, effect, address, now, session.locale)
                stored = True
        return stored

    async def apply(
        self,
        participant: str,
        session: Session,
        effects: Sequence[Effect],
        address: Address | None,
        *,
        carried: bool = False,
    ) -> None:
        """A deletion forgets the person in their case first (and a message that came with it is then kept
        nowhere); then, unless the commit `carried` them, everything else in one round trip, in order; and the
        person's words to staff, with their case."""
        now = self.clock.now()
        if any(isinstance(effect, DeleteData) for effect in effects):
            await self.cases.forget(participant, now)
        for effect in effects:
            if isinstance(effect, ShareWithStaff):
                message = CaseMessage(now, "person", None, effect.text)
                await self.desk.share(participant, message, self.policy.retention)
        if not carried and (batch := self.carried(participant, session, effects, address)) is not None:
            await batch.run(self.audit.client)

    def schedule(
        self,
        batch: Batch,
        participant: str,
        session: Session,
        effect: ScheduleCheckIn,
        address: Address,
        zone: ZoneInfo,
        now: datetime,
    ) -> None:
        due = effect.due_at
        if not effect.exempt_from_quiet_hours:
            due = defer_for_quiet_hours(due, zone, self.policy.quiet)
        checkin = CheckIn(
            participant=participant,
            seq=effect.seq,
            level=effect.level,
            address=address,
            locale=session.locale,
            country=session.country,
            zone=zone.key,
            exempt=effect.exempt_from_quiet_hours,
            due_at=due,
        )
        moved = "quiet_hours" if due != effect.due_at else "none"
        fields = {"seq": str(effect.seq), "level": effect.level, "reason": moved}
        self.checkins.add_to(batch, checkin, now, self.audit.args("checkin_scheduled", fields, now))

    async def open_case(
        self, participant: str, effect: Escalate, address: Address | None, now: datetime, locale: str
    ) -> None:
        """A case for staff. The number to call back goes with it where the deployment shares it (unless the
        person said no to sharing it) or the person consented; where to reach them on their channel, only with
        their consent."""
        consented = effect.consent is True and address is not None
        shared = consented or (effect.consent is None and self.policy.escalation == "contact")
        case_id, what = await self.cases.open(
            participant,
            level=effect.level,
            reason=effect.reason,
            red_flags=effect.red_flags,
            findings=effect.findings,
            channel=address.channel if address else "unknown",
            contact=self.phone(address) if shared else None,
            now=now,
            reach=address if consented else None,
            locale=locale,
            retention=self.policy.retention,
        )
        fields = {"case": case_id, "level": effect.level, "reason": effect.reason, "flags": ",".join(effect.red_flags)}
        if effect.consent is not None:
            fields["consent"] = "yes" if effect.consent else "no"
        await self.audit.record(f"escalation_{what}", fields, now)
