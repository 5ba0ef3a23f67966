"""Sign-in, sessions and CSRF for the console: signed, expiring cookies that carry a server-side session id.

The session cookie holds only a random id, signed with CONSOLE_SECRET and stamped with its time (itsdangerous), so
it is refused once forged or older than the session's lifetime; the id names a record in Redis, so signing out or
removing the account ends it at once. Sign-in always makes a new id (no fixation) and a new CSRF token, which every
form of the session carries and every POST must match. The sign-in form has its own token, in a short-lived signed
cookie, since there is no session yet. Repeated failures lock the account and the client address for a while.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from bot.console.config import Console
from bot.storage import keys
from bot.storage.accounts import Account, ConsoleSession, Failures

log = logging.getLogger("kneebot.console")

ACCOUNT_LIMIT, ADDRESS_LIMIT = 5, 20  # failed sign-ins within the window, per account and per client address
WINDOW = LOCK = timedelta(minutes=15)
SIGNIN_FORM_TTL = timedelta(hours=1)
CSRF_FIELD, CSRF_HEADER = "csrf", "x-csrf-token"


@dataclass(frozen=True)
class Staff:
    """Whoever is signed in to this request."""

    account: Account
    session_id: str
    session: ConsoleSession

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def is_lead(self) -> bool:
        return self.account.role == "lead"


@dataclass(frozen=True)
class SignInResult:
    session_id: str | None = None  # set when signed in
    locked_until: datetime | None = None  # set when locked out


class Auth:
    def __init__(self, console: Console) -> None:
        self.console = console
        secret = console.config.secret or b""
        self._sessions = URLSafeTimedSerializer(secret, salt="kneebot.console.session")
        self._forms = URLSafeTimedSerializer(secret, salt="kneebot.console.signin-form")
        secure = console.config.secure_cookies
        # __Host-: the browser takes it only from this exact host, over https, for the whole site (Path=/).
        self.session_cookie = "__Host-kneebot-staff" if secure else "kneebot-staff"
        self.form_cookie = "__Host-kneebot-signin" if secure else "kneebot-signin"

    # --- who is signed in ---------------------------------------------------------------------------------------------

    async def current(self, request: Request) -> Staff | None:
        cookie = request.cookies.get(self.session_cookie)
        session_id = _unsign(self._sessions, cookie, self.console.config.session_ttl)
        if session_id is None:
            return None
        session = await self.console.accounts.session(session_id)
        if session is None:
            return None
        account = await self.console.accounts.get(session.account_id)
        if account is None:  # removed while this session was open
            await self.console.accounts.end_session(session_id)
            return None
        return Staff(account, session_id, session)

    def csrf_ok(self, staff: Staff, request: Request, form: dict[str, str]) -> bool:
        given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        return hmac.compare_digest(given.encode(), staff.session.csrf.encode())

    # --- signing in and out -------------------------------------------------------------------------------------------

    async def sign_in(self, email: str, password: str, address: str, now: datetime) -> SignInResult:
        accounts = self.console.accounts
        account_scope, address_scope = accounts.id_for(email), self.address_scope(address)
        held = await accounts.failures(account_scope), await accounts.failures(address_scope)
        if held[0].count >= ACCOUNT_LIMIT or held[1].count >= ADDRESS_LIMIT:
            log.info("console sign-in refused: locked")
            return SignInResult(locked_until=now + _locked_for(*held))
        account = await accounts.find(email)
        checked = await self.console.passwords.check_async(account.password_hash if account else None, password)
        if account is None or not checked.ok:
            counted = (
                await accounts.fail(account_scope, window=WINDOW, limit=ACCOUNT_LIMIT, lock=LOCK),
                await accounts.fail(address_scope, window=WINDOW, limit=ADDRESS_LIMIT, lock=LOCK),
            )
            if counted[0].count >= ACCOUNT_LIMIT or counted[1].count >= ADDRESS_LIMIT:
                log.info("console sign-in refused: now locked")
                return SignInResult(locked_until=now + _locked_for(*counted))
            log.info("console sign-in refused")
            return SignInResult()
        await accounts.clear_failures(account_scope)
        if checked.rehashed is not None:
            await accounts.set_password_hash(account.id, checked.rehashed)
        session_id, _ = await accounts.new_session(account.id, now, self.console.config.session_ttl)
        log.info("console sign-in")
        return SignInResult(session_id=session_id)

    async def sign_out(self, staff: Staff) -> None:
        await self.console.accounts.end_session(staff.session_id, staff.account.id)
        log.info("console sign-out")

    def address_scope(self, address: str) -> str:
        """Client addresses are identifiers too: counted under a keyed hash, like accounts."""
        return keys.participant_id(self.console.accounts.id_secret, "addr", address)

    # --- cookies ------------------------------------------------------------------------------------------------------

    def set_session(self, response: Response, session_id: str, base: str) -> None:
        self._set(
            response, self.session_cookie, self._sessions.dumps(session_id), self.console.config.session_ttl, base
        )
        self._clear(response, self.form_cookie, base)

    def clear_session(self, response: Response, base: str) -> None:
        self._clear(response, self.session_cookie, base)

    @staticmethod
    def signin_token() -> str:
        return secrets.token_urlsafe(32)

    def set_signin_cookie(self, response: Response, token: str, base: str) -> None:
        """The sign-in form's token, signed, in a short-lived cookie the form's POST must bring back."""
        self._set(response, self.form_cookie, self._forms.dumps(token), SIGNIN_FORM_TTL, base)

    def signin_form_ok(self, request: Request, form: dict[str, str]) -> bool:
        expected = _unsign(self._forms, request.cookies.get(self.form_cookie), SIGNIN_FORM_TTL)
        given = form.get(CSRF_FIELD, "")
        return expected is not None and hmac.compare_digest(given.encode(), expected.encode())

    def _set(self, response: Response, name: str, value: str, ttl: timedelta, base: str) -> None:
        response.set_cookie(
            name,
            value,
            max_age=int(ttl.total_seconds()),
            path=self._path(base),
            secure=self.console.config.secure_cookies,
            httponly=True,
            samesite="lax",
        )

    def _clear(self, response: Response, name: str, base: str) -> None:
        response.delete_cookie(
            name, path=self._path(base), secure=self.console.config.secure_cookies, httponly=True, samesite="lax"
        )

    def _path(self, base: str) -> str:
        return "/" if self.console.config.secure_cookies else (base or "/")


def _unsign(serializer: URLSafeTimedSerializer, value: str | None, ttl: timedelta) -> str | None:
    """The signed value, or None when it is missing, forged or older than `ttl`."""
    if not value:
        return None
    try:
        found = serializer.loads(value, max_age=int(ttl.total_seconds()))
    except BadSignature:  # SignatureExpired included
        return None
    return found if isinstance(found, str) else None


def _locked_for(account: Failures, address: Failures) -> timedelta:
    """How long until the lock(s) in force lift."""
    held = [f.retry_after for f, limit in ((account, ACCOUNT_LIMIT), (address, ADDRESS_LIMIT)) if f.count >= limit]
    return max(held, default=LOCK)
