"""Paging staff about cases nobody acknowledged: the staff chat's card and the on-call number whose turn it is, again
each deadline until someone acknowledges; one notice instead when the person deleted their data."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.channels.base import Message
from bot.clock import Clock
from bot.content.catalog import Catalog
from bot.shell.delivery import Deliverer, DeliveryFailed, OptedOut
from bot.shell.staff import StaffTargets, card, deletion_notice, oncall_for_page, sms_page
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
    catalog: Catalog
    locale: str
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
        """Page staff about an unacknowledged case, then schedule the re-page one deadline later."""
        case = await self.cases.get(claim.id)
        if case is not None and case.deleted_at is not None and case.status != "resolved":
            await self.deleted(case)
            await self.cases.drop_page(claim)
            return
        if case is None or case.status != "open":
            await self.cases.drop_page(claim)
            return
        targets = []
        if self.targets.chat is not None and await self.send(self.targets.chat, card(case, self.catalog, self.locale)):
            targets.append("staff_chat")
        number = oncall_for_page(case.pages, self.targets.oncall)
        if number is not None and await self.send(number, sms_page(case, self.catalog, self.locale)):
            targets.append(f"oncall_{self.targets.oncall.index(number) + 1}")
        pages = await self.cases.paged(claim, self.clock.now() + self.ack_deadline)
        if pages > 0:
            self.pages += 1
            fields = {"case": case.id, "page": str(pages), "target": ",".join(targets) or "none"}
            await self.audit.record("page_sent", fields, self.clock.now())

    async def deleted(self, case: Case) -> None:
        """The person deleted their data: one notice in place of the next page, to the staff chat and to the on-call
        number paged last, so nobody waits to call back a number that is gone."""
        if self.targets.chat is not None:
            await self.send(self.targets.chat, card(case, self.catalog, self.locale))
        number = oncall_for_page(case.pages - 1, self.targets.oncall) if case.pages else None
        if number is not None:
            await self.send(number, deletion_notice(case, self.catalog, self.locale))
        await self.audit.record("page_sent", {"case": case.id, "status": "deleted"}, self.clock.now())

    async def send(self, address: Address, message: Message) -> bool:
        """Whether it went (a channel not configured, or failing, is skipped: the page is counted all the same)."""
        with contextlib.suppress(DeliveryFailed, OptedOut):
            await self.deliverer.send_limited(address, message, None, "page", max_wait_s=PAGE_SLOT_WAIT_S)
            return True
        return False
