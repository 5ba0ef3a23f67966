"""What a long-running process checks and says as it starts: its dependencies reached (a setting to fix, or a
dependency the command cannot work without, is one line and exit 2 in the command line), then one line naming the
version, the channels, the store and the workers seen."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from redis.exceptions import RedisError

from bot.app.settings import Settings
from bot.app.wiring import channel_names, redis_client
from bot.channels.telegram import TelegramChannel, TelegramTokenRejected
from bot.content.loader import ROOT, Content
from bot.storage.sendqueue import Heartbeats

CHECK_TIMEOUT_S = 5.0


class StartupError(Exception):
    """A dependency this command needs is out of reach, or refuses our settings: one line for the command line."""


@dataclass(frozen=True)
class Store:
    """Redis as found at start: up (and the workers it has seen alive), down, or not configured."""

    label: str
    up: bool | None  # None: no REDIS_URL (memory)
    problem: str = ""
    workers: int | None = None

    @property
    def state(self) -> str:
        if self.up is None:
            return "memory"
        return f"{self.label} (up)" if self.up else f"{self.label} (down: {self.problem})"


def kneebot_version() -> str:
    try:
        return version("kneebot")
    except PackageNotFoundError:  # run from the source tree (`python -m bot` on a platform), not installed
        with (ROOT / "pyproject.toml").open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])


async def check_store(settings: Settings) -> Store:
    """Ping Redis and count the workers alive; never raises (a server starts without Redis, a worker won't)."""
    if not settings.redis_url:
        return Store("memory", None)
    client = redis_client(settings.redis_url, timeout_s=CHECK_TIMEOUT_S)
    try:
        await client.ping()
        alive = await Heartbeats(client).alive()
        return Store(settings.store_label, True, workers=sum(1 for name in alive if name.startswith("worker")))
    except (RedisError, OSError) as exc:
        return Store(settings.store_label, False, type(exc).__name__)
    finally:
        await client.aclose()


async def check_telegram(settings: Settings, content: Content) -> None:
    """getMe: StartupError when the token is refused, TelegramSendError when Telegram is out of reach."""
    if settings.telegram_bot_token is None:
        return
    channel = TelegramChannel(
        settings.telegram_bot_token.get_secret_value(), content.catalog, base_url=settings.telegram_api_base_url
    )
    try:
        await channel.start()
    except TelegramTokenRejected as exc:
        raise StartupError(f"TELEGRAM_BOT_TOKEN: {exc}") from None
    finally:
        await channel.stop()


def start_line(command: str, settings: Settings, store: Store, *, where: str = "") -> str:
    channels = ", ".join(channel_names(settings)) or "none"
    workers = "unknown" if store.workers is None else str(store.workers)
    at = f" on {where}" if where else ""
    return (
        f"kneebot {kneebot_version()} {command}{at}: channels {channels}; store {store.state}; workers seen {workers}"
    )
