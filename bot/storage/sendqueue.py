"""The send queue: reply jobs (`SendJob`) in a Redis stream read through one consumer group, and the heartbeats of its
readers (workers, and a web process while no worker runs), on Redis's clock, so a dead reader's jobs move on in
seconds.

A job stays pending for the reader that took it until that reader finishes it (`done`). A reader that is alive
retries its own failed jobs (`due_again`, backing off by how often each was delivered); a reader whose heartbeat ran
out is dead, and any other reader claims its pending jobs (`take_over`). Nothing is claimed from a live reader, so a
slow send is never sent twice by two readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio
from redis.exceptions import ResponseError

from bot.storage import keys
from bot.storage.scripts import Script

GROUP = "senders"  # the send queue's consumer group: every reader reads from it
QUEUE_CAP = 100_000  # jobs kept at most (approximate): far more than minutes of traffic
WORKER = "worker:"  # readers' names start with their kind: only workers make webhooks queue their replies
WEB = "web:"

_BEAT, _ALIVE = Script("beat"), Script("alive")


@dataclass(frozen=True)
class SendJob:
    """A message's replies to send, as the web process queues them and a worker reads them: whose (`participant`,
    None for a group chat), the inbound message whose dedupe record holds the replies (`key`), the channel and the
    address there, and the button press to answer and the buttons to remove."""

    participant: str | None
    key: str | None
    channel: str
    to: str
    callback_id: str | None = None
    button_message_id: int | None = None

    def fields(self) -> dict[str, str]:
        """As the stream's entry."""
        fields = {"p": self.participant or "", "k": self.key or "", "ch": self.channel, "to": self.to}
        if self.callback_id:
            fields["cb"] = self.callback_id
        if self.button_message_id is not None:
            fields["bm"] = str(self.button_message_id)
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> SendJob:
        button = fields.get("bm", "")
        return cls(
            fields.get("p") or None,
            fields.get("k") or None,
            fields.get("ch", "telegram"),  # jobs queued before the channel was named were all Telegram's
            fields.get("to", ""),
            fields.get("cb") or None,
            int(button) if button.isdigit() else None,
        )


@dataclass(frozen=True)
class Entry:
    id: str
    job: SendJob


@dataclass(frozen=True)
class Pending:
    id: str
    idle_ms: int
    deliveries: int  # how often it was handed to a reader: once, then once more for each retry or takeover


class SendQueue:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self.key = keys.send_queue()
        self._group_ready = False

    async def ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def forget_group(self) -> None:
        """After a Redis error: the stream may be gone (a restarted Redis), so create the group again next time."""
        self._group_ready = False

    async def add(self, job: SendJob) -> None:
        await self.client.xadd(self.key, job.fields(), maxlen=QUEUE_CAP, approximate=True)  # type: ignore[arg-type]

    async def read(self, reader: str, count: int, block_ms: int | None) -> list[Entry]:
        """New jobs, now pending for `reader`; `block_ms`: wait that long for one (None: don't wait)."""
        await self.ensure_group()
        read: Any = await self.client.xreadgroup(GROUP, reader, {self.key: ">"}, count, block_ms)
        return [entry for _stream, entries in read or [] for entry in _entries(entries)]

    async def take_over(self, reader: str, alive: Sequence[str], min_idle_ms: int, count: int) -> list[Entry]:
        """The pending jobs of readers not `alive` (idle at least `min_idle_ms`, so two readers taking over at once
        cannot both claim one), now `reader`'s. A dead reader left with nothing pending is removed from the group."""
        await self.ensure_group()
        taken: list[Entry] = []
        for consumer in await self.client.xinfo_consumers(self.key, GROUP):
            name = _text(consumer["name"])
            if name == reader or name in alive:
                continue
            if int(consumer["pending"]) == 0:
                await self.client.xgroup_delconsumer(self.key, GROUP, name)
                continue
            if len(taken) >= count:
                continue
            pending = await self.client.xpending_range(self.key, GROUP, "-", "+", count - len(taken), name)
            ids: list[Any] = [p["message_id"] for p in pending]
            if ids:
                taken += _entries(await self.client.xclaim(self.key, GROUP, reader, min_idle_ms, ids))
        return taken

    async def own(self, reader: str, count: int) -> list[Pending]:
        """`reader`'s pending jobs, oldest first."""
        await self.ensure_group()
        pending = await self.client.xpending_range(self.key, GROUP, "-", "+", count, reader)
        return [
            Pending(_text(p["message_id"]), int(p["time_since_delivered"]), int(p["times_delivered"])) for p in pending
        ]

    async def claim_again(self, reader: str, ids: Sequence[str]) -> list[Entry]:
        """`reader`'s own pending jobs, for a retry: each counts one more delivery."""
        if not ids:
            return []
        return _entries(await self.client.xclaim(self.key, GROUP, reader, 0, list(ids)))

    async def job(self, entry_id: str) -> SendJob | None:
        """One entry's job, by its id (None once it is gone)."""
        found = _entries(await self.client.xrange(self.key, entry_id, entry_id))
        return found[0].job if found else None

    async def done(self, entry_id: str) -> None:
        async with self.client.pipeline(transaction=False) as done:  # one round trip for both
            done.xack(self.key, GROUP, entry_id)
            done.xdel(self.key, entry_id)
            await done.execute()


class Heartbeats:
    """Which readers of the send queue are alive, by Redis's clock (the readers' own clocks may disagree)."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client

    async def beat(self, name: str, ttl_s: float) -> None:
        await _BEAT(self.client, [keys.senders()], [name, int(ttl_s * 1000)])

    async def alive(self) -> list[str]:
        names: Any = await _ALIVE(self.client, [keys.senders()], [])
        return [_text(name) for name in names]

    async def stop(self, name: str) -> None:
        """A reader stopping cleanly: no longer alive at once (its pending jobs, if any, can be taken over)."""
        await self.client.zrem(keys.senders(), name)


def workers(alive: Sequence[str]) -> int:
    return sum(1 for name in alive if name.startswith(WORKER))


def _entries(raw: Any) -> list[Entry]:
    found = []
    for entry_id, fields in raw or []:
        if fields is None:  # deleted while pending
            continue
        found.append(Entry(_text(entry_id), SendJob.from_fields({_text(k): _text(v) for k, v in fields.items()})))
    return found


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
