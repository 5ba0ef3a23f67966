"""Password hashing with argon2id at argon2-cffi's recommended parameters (RFC 9106, low-memory profile).

Verifying takes tens of milliseconds and 64 MiB by design, so it runs in a thread, at most two at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH, MAX_LENGTH = 12, 256
PARAMETERS = profiles.RFC_9106_LOW_MEMORY


@dataclass(frozen=True)
class Checked:
    ok: bool
    rehashed: str | None = None  # the password hashed again at today's parameters, when the stored hash is older


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, concurrency: int = 2) -> None:
        self.hasher = hasher or PasswordHasher.from_parameters(PARAMETERS)
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def check(self, stored: str | None, password: str) -> Checked:
        """Against `stored`, or (no account) against a dummy hash, so an unknown email takes as long as a known one."""
        if stored is None:
            self._dummy = self._dummy or self.hasher.hash("kneebot: no such account")
            self._verify(self._dummy, password)
            return Checked(False)
        if not self._verify(stored, password):
            return Checked(False)
        return Checked(True, self.hasher.hash(password) if self.hasher.check_needs_rehash(stored) else None)

    async def check_async(self, stored: str | None, password: str) -> Checked:
        async with self._slots:
            return await asyncio.to_thread(self.check, stored, password)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in one line; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"the password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must be at most {MAX_LENGTH} characters"
    if len(set(password)) < 5:
        return "the password repeats too few characters"
    return None
