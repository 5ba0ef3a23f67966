"""Staff console accounts, sessions and failed sign-ins in Redis: hashes of passwords only, no email in a key name.

An account is a hash under a keyed hash of its email (`keys.account_id`); the email is a value, for `kneebot staff
list` and for "acknowledged by". A session is a hash under a digest of its random id, with the same expiry as the
cookie that carries the id, and is listed under its account so that removing the account ends every session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio

from bot.storage import keys
from bot.storage.schedule import from_millis, millis
from bot.storage.scripts import Script

ROLES = ("staff", "lead")


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    role: str  # staff | lead
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class ConsoleSession:
    account_id: str
    csrf: str  # the token every form of this session must carry
    created_at: datetime


@dataclass(frozen=True)
class Failures:
    count: int
    retry_after: timedelta  # how long until the count is forgotten (or the lock lifts)


_ADD, _FAIL = Script("add_account"), Script("signin_failed")


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:40]


class AccountStore:
    def __init__(self, client: redis.asyncio.Redis, id_secret: bytes) -> None:
        self.client, self.id_secret = client, id_secret

    def id_for(self, email: str) -> str:
        return keys.account_id(self.id_secret, email)

    # --- accounts ----------------------------------------------------------------------------------------------------

    async def add(self, email: str, role: str, password_hash: str, now: datetime, *, replace: bool = False) -> bool:
        """False when the account exists and `replace` is not set. Replacing ends the account's sessions."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        account_id = self.id_for(email)
        names = [keys.account(account_id), keys.accounts()]
        args: list[str | int | bytes] = [account_id, normal(email), role, password_hash, millis(now), int(replace)]
        written = bool(await _ADD(self.client, names, args) == 1)
        if written and replace:
            await self.end_sessions(account_id)
        return written

    async def get(self, account_id: str) -> Account | None:
        raw = {_text(k): _text(v) for k, v in (await self.client.hgetall(keys.account(account_id))).items()}
        if not raw.get("password_hash"):
            return None
        return Account(
            id=raw["id"],
            email=raw["email"],
            role=raw.get("role", "staff"),
            password_hash=raw["password_hash"],
            created_at=from_millis(int(raw.get("created_at", "0"))),
        )

    async def find(self, email: str) -> Account | None:
        return await self.get(self.id_for(email))

    async def all(self) -> list[Account]:
        ids = sorted(_text(i) for i in await self.client.smembers(keys.accounts()))
        found = [await self.get(i) for i in ids]
        return sorted((a for a in found if a is not None), key=lambda a: a.email)

    async def count(self) -> int:
        return int(await self.client.scard(keys.accounts()))

    async def remove(self, email: str) -> int | None:
        """End the account's sessions and delete it: how many sessions were ended, or None when there is none."""
        account_id = self.id_for(email)
        if not await self.client.exists(keys.account(account_id)):
            return None
        ended = await self.end_sessions(account_id)
        await self.client.delete(keys.account(account_id))
        await self.client.srem(keys.accounts(), account_id)
        return ended

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """After a sign-in that found the hash made with older parameters (only while the account still exists)."""
        if await self.client.exists(keys.account(account_id)):
            await self.client.hset(keys.account(account_id), "password_hash", password_hash)

    # --- sessions ----------------------------------------------------------------------------------------------------

    async def new_session(self, account_id: str, now: datetime, ttl: timedelta) -> tuple[str, ConsoleSession]:
        """A new random session id (for the cookie) and its record; a fresh CSRF token with it."""
        session_id = secrets.token_urlsafe(32)
        session = ConsoleSession(account_id=account_id, csrf=secrets.token_urlsafe(32), created_at=now)
        digest = session_digest(session_id)
        key, ttl_ms = keys.console_session(digest), int(ttl.total_seconds() * 1000)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={"account": account_id, "csrf": session.csrf, "created_at": millis(now)})
            pipe.pexpire(key, ttl_ms)
            pipe.sadd(keys.account_sessions(account_id), digest)
            pipe.pexpire(keys.account_sessions(account_id), ttl_ms)  # outlives none of its sessions by much
            await pipe.execute()
        return session_id, session

    async def session(self, session_id: str) -> ConsoleSession | None:
        raw = {
            _text(k): _text(v)
            for k, v in (await self.client.hgetall(keys.console_session(session_digest(session_id)))).items()
        }
        if not raw.get("account") or not raw.get("csrf"):
            return None
        return ConsoleSession(raw["account"], raw["csrf"], from_millis(int(raw.get("created_at", "0"))))

    async def end_session(self, session_id: str, account_id: str | None = None) -> None:
        digest = session_digest(session_id)
        await self.client.delete(keys.console_session(digest))
        if account_id is not None:
            await self.client.srem(keys.account_sessions(account_id), digest)

    async def end_sessions(self, account_id: str) -> int:
        digests = [_text(d) for d in await self.client.smembers(keys.account_sessions(account_id))]
        names = [keys.console_session(d) for d in digests]
        ended = int(await self.client.delete(*names)) if names else 0
        await self.client.delete(keys.account_sessions(account_id))
        return ended

    # --- failed sign-ins ---------------------------------------------------------------------------------------------

    async def failures(self, scope: str) -> Failures:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(keys.signin_failures(scope))
            pipe.pttl(keys.signin_failures(scope))
            raw_count, ttl_ms = await pipe.execute()
        return Failures(int(raw_count or 0), timedelta(milliseconds=max(int(ttl_ms), 0)))

    async def fail(self, scope: str, *, window: timedelta, limit: int, lock: timedelta) -> Failures:
        args: list[str | int | bytes] = [_ms(window), limit, _ms(lock)]
        raw = await _FAIL(self.client, [keys.signin_failures(scope)], args)
        assert isinstance(raw, list)
        count, ttl_ms = (int(v) for v in raw)
        return Failures(count, timedelta(milliseconds=max(ttl_ms, 0)))

    async def clear_failures(self, scope: str) -> None:
        await self.client.delete(keys.signin_failures(scope))


def normal(email: str) -> str:
    return email.strip().lower()


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
