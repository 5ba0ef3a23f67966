"""What staff do to a case, by any route (the console, a Telegram card's button, an on-call number's text), done one
way: the case changed and logged, the audit entry, every staff chat card of the case redrawn; a staff reply to a
person who asked to talk to someone (a handoff) sent on their own channel; and, when the case is resolved, the person
handed back to kneebot and told so.

Nothing here logs a case id, an address or a message: only kinds and outcomes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError

from bot.clock import Clock
from bot.shell.conversation import ConversationService
from bot.shell.delivery import Deliverer, DeliveryFailed, OptedOut
from bot.shell.staff import StaffTargets, card
from bot.shell.wording import Words
from bot.storage.audit import AuditLog
from bot.storage.cases import Case
from bot.storage.casework import MAX_TEXT, CaseDesk, CaseMessage
from bot.triage.effects import Text
from bot.triage.events import HandoffEnded

log = logging.getLogger("kneebot.casework")
REPLY_WAIT_S = 10.0  # a staff reply waits this long at most for its slot in the provider's limits
MAX_REPLY = 1000  # characters of a staff reply (an SMS of seven segments)


@dataclass
class CaseWork:
    desk: CaseDesk
    audit: AuditLog
    deliverer: Deliverer
    service: ConversationService
    targets: StaffTargets
    words: Words
    clock: Clock
    retention: timedelta  # HANDOFF_RETENTION: how long a handoff's messages are kept after the last

    async def acknowledge(self, case_id: str, who: str, via: str) -> str:
        """The status before (see CaseStore.acknowledge): 'open' means this call acknowledged it."""
        now = self.clock.now()
        before = await self.desk.acknowledge(case_id, who, via, now)
        if before == "open":
            await self.audit.record("escalation_acknowledged", {"case": case_id, "channel": via}, now)
            await self.redraw(case_id)
        return before

    async def resolve(self, case_id: str, who: str, via: str, outcome: str | None = None) -> tuple[str, bool]:
        """The status before (see CaseStore.resolve), and whether a person talking to staff in it was handed back
        to kneebot and told so."""
        now = self.clock.now()
        case = await self.desk.cases.get(case_id)  # before: resolving it forgets where the person is reached
        before = await self.desk.resolve(case_id, who, outcome, via, now)
        told = False
        if before not in ("resolved", "missing"):
            fields = {"case": case_id, "channel": via} | ({"outcome": outcome} if outcome else {})
            await self.audit.record("escalation_resolved", fields, now)
            await self.redraw(case_id)
            if case is not None and case.handoff and case.reach is not None and case.participant:
                told = await self.hand_back(case)
        return before, told

    async def reply(self, case_id: str, who: str, text: str) -> str:
        """A staff member's words to the person, on the person's own channel: 'sent', 'empty', 'closed' (no
        handoff, resolved, or the person stopped or deleted their data) or 'failed' (the provider refused it)."""
        words = text.strip()[:MAX_REPLY]
        if not words:
            return "empty"
        case = await self.desk.cases.get(case_id)
        if case is None or case.reach is None or not case.participant or case.status == "resolved":
            return "closed"
        session = await self.service.session(case.participant)
        if session is None or session.handoff != "open":  # stopped, deleted, or the conversation expired
            return "closed"
        locale = case.locale or session.locale
        said = self.service.content.catalog.render(Text("handoff.staff", (("text", words),)), locale)
        try:
            await self.deliverer.send_text(case.reach, said[:MAX_TEXT], participant=case.participant,
                                           max_wait_s=REPLY_WAIT_S)  # fmt: skip
        except (DeliveryFailed, OptedOut) as exc:
            log.warning("a staff reply was not delivered (%s)", type(exc).__name__)
            return "failed"
        now = self.clock.now()
        await self.desk.add_message(case, CaseMessage(now, "staff", who, words), self.retention)
        await self.audit.record("handoff_reply", {"case": case_id, "channel": case.reach.channel}, now)
        return "sent"

    async def redraw(self, case_id: str) -> None:
        """Every staff chat card of the case shows where it stands now (best effort: a card that cannot be edited
        stays as it was)."""
        chat = self.targets.chat
        case = await self.desk.cases.get(case_id)
        if chat is None or case is None or not case.cards:
            return
        try:
            channel = self.deliverer.channel(chat.channel)
        except DeliveryFailed:  # the staff chat's channel is not configured in this process
            return
        drawn = card(case, self.words)
        for message_id in case.cards:
            await channel.redraw(chat.to, message_id, drawn)

    async def hand_back(self, case: Case) -> bool:
        """The person talks to kneebot again: the engine's turn for it, and its replies on their channel."""
        assert case.reach is not None
        key = f"handback:{case.id}"
        try:
            handled = await self.service.handle(case.participant, HandoffEnded(), message_id=key, address=case.reach)
            if not handled.replies:
                return False
            await self.deliverer.deliver(
                case.participant, case.reach, key, handled.replies, handled.locale, max_wait_s=REPLY_WAIT_S
            )
        except (DeliveryFailed, OptedOut, RedisError) as exc:
            log.warning("a person was not told they are back with kneebot (%s)", type(exc).__name__)
            return False
        await self.audit.record("handoff_ended", {"case": case.id, "channel": case.reach.channel}, self.clock.now())
        return True
