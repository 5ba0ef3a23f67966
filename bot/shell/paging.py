"""Paging staff about cases nobody acknowledged: the staff chat's card and the on-call number whose turn it is, again
each deadline, each number `per_contact` times before the next; after the last number's pages, one final notice and no
more pages. One notice instead when the person deleted their data."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.channels.base import Message
from bot.clock import Clock
from bot.shell.delivery import Deliverer, DeliveryFailed, OptedOut
from bot.shell.staff import Paged, StaffTargets, card, deletion_notice, last_notice, sms_page
from bot.shell.wording import Words
from bot.storage.audit import AuditLog
from bot.storage.cases import Case, CaseStore
from bot.storage.checkins import Address
from bot.storage.schedule import Claim

log = logging.getLogger("kneebot.paging")
PAGE_SLOT_WAIT_S = 30.0  # a page to staff waits its turn
BATCH = 16


@dataclass
class Pager:
    cases: CaseStore
    audit: AuditLog
    deliverer: Deliverer
    targets: StaffTargets
    words: Words
    clock: Clock
    lease: timedelta
    ack_deadline: timedelta
    pages: int = 0  # pages sent, for the worker's last line

    async def page_due(self) -> int:
        """Page staff about each case whose acknowledgement is overdue; how many."""
        claims = await self.cases.claim_pages(self.clock.now(), self.lease, BATCH)
        for claim in claims:
            await self.page(claim)
        return len(claims)

    async def page(self, claim: Claim) -> None:
        """Page staff about an unacknowledged case, then schedule the next page one deadline later; past the last
        page, the final notice instead, and no more pages."""
        case = await self.cases.get(claim.id)
        if case is not None and case.deleted_at is not None and case.status != "resolved":
            await self.deleted(case)
            await self.cases.drop_page(claim)
            return
        if case is None or case.status != "open":
            await self.cases.drop_page(claim)
            return
        paged = Paged(case.pages + 1, self.targets.pages, self.clock.now())
        if paged.page > paged.of:
            await self.last(case, paged)
            await self.cases.drop_page(claim)
            return
        targets = []
        if self.targets.chat is not None:
            sent = await self.send(self.targets.chat, card(case, self.words, paged))
            if sent is not None:
                targets.append("staff_chat")
                if sent:
                    await self.cases.add_card(case.id, sent)
        number = self.targets.oncall_for_page(paged.page)
        if number is not None and await self.send(number, sms_page(case, self.words, paged)) is not None:
            targets.append(f"oncall_{self.targets.oncall.index(number) + 1}")
        pages = await self.cases.paged(claim, self.clock.now() + self.ack_deadline)
        if pages > 0:
            self.pages += 1
            fields = {"case": case.id, "page": str(pages), "target": ",".join(targets) or "none"}
            await self.audit.record("page_sent", fields, self.clock.now())

    async def last(self, case: Case, paged: Paged) -> None:
        """Nobody acknowledged after every page: one notice to the staff chat and every on-call number."""
        notice = last_notice(case, self.words, Paged(paged.of, paged.of, paged.now))
        for address in (*([self.targets.chat] if self.targets.chat else []), *self.targets.oncall):
            await self.send(address, notice)
        await self.audit.record("pages_ended", {"case": case.id, "pages": str(case.pages)}, self.clock.now())

    async def deleted(self, case: Case) -> None:
        """The person deleted their data: one notice in place of the next page, to the staff chat and to the on-call
        number paged last, so nobody waits to call back a number that is gone."""
        if self.targets.chat is not None:
            await self.send(self.targets.chat, card(case, self.words))
        number = self.targets.oncall_for_page(min(case.pages, self.targets.pages))
        if number is not None:
            await self.send(number, deletion_notice(case, self.words))
        await self.audit.record("page_sent", {"case": case.id, "status": "deleted"}, self.clock.now())

    async def send(self, address: Address, message: Message) -> int | None:
        """The provider's message id when it went (0 where it has none); None when it did not (a channel not
        configured, or failing, is skipped: the page is counted all the same)."""
        with contextlib.suppress(DeliveryFailed, OptedOut):
            return await self.deliverer.send_limited(address, message, None, "page", max_wait_s=PAGE_SLOT_WAIT_S)
        return None
