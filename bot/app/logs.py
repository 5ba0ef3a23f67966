"""Logging for the server and workers: our lines carry conversation ids and node ids, never text or identifiers."""

from __future__ import annotations

import logging
import os

# httpx logs request URLs (they hold the bot token); PTB and httpcore log parameters (chat ids, text) at DEBUG.
CHATTY_LIBRARIES = ("httpx", "httpcore", "telegram", "twilio", "aiohttp", "hpack")


def configure_logging(level: int | str = logging.INFO) -> None:
    logging.basicConfig(
        level=level.upper() if isinstance(level, str) else level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22: timedelta retry_after, no deprecation warning
