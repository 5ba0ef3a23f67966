"""The staff console put together from the settings: the app `kneebot serve` mounts under /staff, the start-up check
of CONSOLE_SECRET, and the `kneebot staff` commands' settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from bot.console.cli import StaffCommandsConfig, staff_commands

if TYPE_CHECKING:  # the command line imports this module: it starts without Starlette, pydantic or redis-py
    from starlette.types import ASGIApp, Receive, Scope, Send

    from bot.app.settings import Settings
    from bot.app.wiring import Services
    from bot.shell.casework import CaseWork


def staff_console(settings: Settings, services: Services | None, work: CaseWork | None) -> ASGIApp:
    """The console, or (without Redis, where accounts and cases live) a page that says it needs REDIS_URL. `work`:
    what staff do to cases, shared with the webhooks' staff answers."""
    if services is None or work is None:
        return _unavailable
    from bot.console.app import create_console
    from bot.console.config import Console, ConsoleConfig
    from bot.console.passwords import Passwords
    from bot.storage.accounts import AccountStore

    secret = settings.console_secret.get_secret_value().encode() if settings.console_secret else None
    config = ConsoleConfig(
        secret=secret,
        secure_cookies=(settings.public_base_url or "").startswith("https://"),
        zone=settings.clinic_zone,
        locale=settings.default_locale,
    )
    id_secret = settings.id_hash_secret.get_secret_value().encode()
    console = Console(
        config=config,
        accounts=AccountStore(services.client, id_secret),
        desk=work.desk,
        work=work,
        audit=services.audit,
        catalog=services.content.catalog,
        clock=services.clock,
        passwords=Passwords(),
    )
    return create_console(console)


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import PlainTextResponse

    response = PlainTextResponse("the staff console needs REDIS_URL", status_code=503)
    await response(scope, receive, send)


def console_problem(settings: Settings) -> str | None:
    """For `kneebot serve`: staff accounts exist but CONSOLE_SECRET is unset (a weak one fails the settings). When
    Redis cannot be asked, the server starts anyway (it answers webhooks without Redis) and the console, without a
    secret, refuses every page."""
    if settings.console_secret is not None or not settings.redis_url:
        return None
    import redis
    from redis.exceptions import RedisError

    from bot.storage import keys

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        accounts = int(client.scard(keys.accounts()))
    except RedisError:
        return None
    finally:
        client.close()
    if accounts:
        return f"CONSOLE_SECRET must be set: {accounts} staff account(s) exist (kneebot staff list)"
    return None


def staff_group(load: Callable[[], Settings]) -> click.Group:
    """`kneebot staff`, reading the settings (REDIS_URL, ID_HASH_SECRET) only when a command runs."""

    def config() -> StaffCommandsConfig:
        settings = load()
        assert settings.redis_url  # `load` insists on it
        return StaffCommandsConfig(
            redis_url=settings.redis_url,
            id_secret=settings.id_hash_secret.get_secret_value().encode(),
            console_secret_set=settings.console_secret is not None,
        )

    return staff_commands(config)
