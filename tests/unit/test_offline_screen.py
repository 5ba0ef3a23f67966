"""With the store unreachable the red-flag screen still answers: a clear red flag gets its interrupt, and a sign only
asked about (whose yes/no question needs the conversation kept) gets the try-again notice with the number."""

from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError

from bot.content.loader import Content
from bot.shell.conversation import ConversationService
from bot.storage.conversations import Loaded, MemoryConversationStore
from bot.triage.events import MessageReceived
from tests.conftest import FixedClock


class DownStore(MemoryConversationStore):
    async def load(self, participant: str, message_id: str | None = None, *, provider: bool = False) -> Loaded:
        raise RedisConnectionError("down")


def test_with_the_store_down_a_red_flag_is_answered_and_a_question_gets_the_notice(
    content: Content, clock: FixedClock
) -> None:
    service = ConversationService(content, DownStore(), clock)

    async def main() -> tuple[str, str]:
        said = await service.handle("p", MessageReceived("I can't breathe"), message_id="1")
        asked = await service.handle("p", MessageReceived("could this be a clot in my lung?"), message_id="2")
        return said.replies[0].parts[0].key, asked.replies[0].parts[0].key

    assert asyncio.run(main()) == ("emergency.action", "notice.try_again")
