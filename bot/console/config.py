"""What the console is given: its settings, already parsed by the app, and the stores it works on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.console.passwords import Passwords
from bot.content.catalog import Catalog
from bot.shell.casework import CaseWork
from bot.storage.accounts import AccountStore
from bot.storage.audit import AuditLog
from bot.storage.casework import CaseDesk

SESSION_TTL = timedelta(hours=12)  # a clinic shift; the cookie and its server-side record expire together
LIVE_POLL_S = 2  # how often an open list asks for changes


@dataclass(frozen=True)
class ConsoleConfig:
    secret: bytes | None  # CONSOLE_SECRET: signs the cookies. None: every page answers 503 (not set up)
    secure_cookies: bool  # PUBLIC_BASE_URL is https: Secure cookies with the __Host- prefix
    zone: ZoneInfo  # CLINIC_TIME_ZONE: every time staff read
    locale: str
    session_ttl: timedelta = SESSION_TTL
    poll_s: int = LIVE_POLL_S


@dataclass(frozen=True)
class Console:
    config: ConsoleConfig
    accounts: AccountStore
    desk: CaseDesk
    audit: AuditLog
    catalog: Catalog
    clock: Clock
    passwords: Passwords
    work: CaseWork  # acknowledge, resolve and reply, as every route does them
