"""`kneebot staff add|remove|list`: staff console accounts. JSON on stdout; bad input: one line on stderr, exit 2.

A password is asked twice on a terminal, or read from the first line of stdin with --password-stdin (for scripts);
it is never an argument, so it stays out of shell history and process lists.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

if TYPE_CHECKING:  # the store is imported when a command runs: `kneebot` starts without redis-py
    from bot.storage.accounts import AccountStore

T = TypeVar("T")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")


@dataclass(frozen=True)
class StaffCommandsConfig:
    redis_url: str
    id_secret: bytes
    console_secret_set: bool


def staff_commands(config: Callable[[], StaffCommandsConfig]) -> click.Group:
    """The `staff` group; `config` is called when a command runs (the app reads the settings)."""

    @click.group()
    def staff() -> None:
        """Staff console accounts (the console is served by `kneebot serve` under /staff/)."""

    @staff.command("add")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["staff", "lead"]), required=True, help="lead: also statistics")
    @click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
    @click.option("--replace", is_flag=True, help="set a new password and role for an existing account")
    def add(email: str, role: str, password_stdin: bool, replace: bool) -> None:
        """Add an account (asks for its password twice)."""
        from bot.console.passwords import Passwords, password_problem
        from bot.storage.accounts import normal

        address = normal(email)
        if not EMAIL.fullmatch(address) or len(address) > 254:
            fail(f"{email!r} is not an email address")
        password = _password(password_stdin)
        if (problem := password_problem(password)) is not None:
            fail(problem)
        settings = config()
        hashed = Passwords().hash(password)

        async def run(accounts: AccountStore) -> bool:
            return await accounts.add(address, role, hashed, _now(), replace=replace)

        if not _with_accounts(settings, run):
            fail(f"an account for {address} exists (--replace sets a new password and role)")
        result: dict[str, object] = {"ok": True, "email": address, "role": role}
        if not settings.console_secret_set:
            result["note"] = "set CONSOLE_SECRET before `kneebot serve`: the console refuses to start without it"
        emit(result)

    @staff.command("remove")
    @click.argument("email")
    def remove(email: str) -> None:
        """Remove an account and end its sessions."""
        from bot.storage.accounts import normal

        async def run(accounts: AccountStore) -> int | None:
            return await accounts.remove(email)

        ended = _with_accounts(config(), run)
        if ended is None:
            fail(f"there is no account for {normal(email)}")
        emit({"ok": True, "removed": normal(email), "sessions_ended": ended})

    @staff.command("list")
    def list_() -> None:
        """Every account, one JSON line each, by email."""

        async def run(accounts: AccountStore) -> list[dict[str, str]]:
            return [
                {"email": a.email, "role": a.role, "created_at": a.created_at.isoformat(timespec="seconds")}
                for a in await accounts.all()
            ]

        for row in _with_accounts(config(), run):
            emit(row)

    return staff


def _with_accounts(settings: StaffCommandsConfig, work: Callable[[AccountStore], Awaitable[T]]) -> T:
    import redis.asyncio
    from redis.exceptions import RedisError

    from bot.storage.accounts import AccountStore

    async def run() -> T:
        client = redis.asyncio.Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
        try:
            return await work(AccountStore(client, settings.id_secret))
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except RedisError as e:
        fail(f"cannot reach Redis: {type(e).__name__}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("--password-stdin: nothing on stdin")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to ask for the password: use --password-stdin")
    entered: str = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return entered


def _now() -> datetime:
    from bot.clock import SystemClock

    return SystemClock().now()


def fail(message: str) -> NoReturn:
    click.echo(f"kneebot: {message}", err=True)
    sys.exit(2)


def emit(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))
