"""The conversation shell: load -> advance -> commit (check-and-set, retried) -> apply effects."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from redis.exceptions import RedisError

from bot.clock import Clock
from bot.content.loader import Content
from bot.content.regions import PhoneRegions
from bot.storage.checkins import Address
from bot.storage.conversations import ConversationStore, Loaded, Processed, Replayed, Stale, Written
from bot.storage.scripts import Batch
from bot.storage.sendqueue import SendJob
from bot.triage.effects import ChoiceOption, DeleteData, Effect, Escalate, Param, SendReply, Text
from bot.triage.engine import Policy, Turn, advance, new_session
from bot.triage.events import CheckInDue, Event, HandoffEnded, MessageReceived
from bot.triage.red_flags import PRIORITY
from bot.triage.session import Session, SessionStatus

log = logging.getLogger("kneebot.conversation")
MAX_ATTEMPTS = 20
RECENT_SIZE = 1024  # conversations a process remembers (4 KB each in memory, 8 KB once assessed: 8 MB at most)
RECENT_FOR_S = 15 * 60.0  # and for how long after its last message: a conversation's pauses, not a day's
# The outcomes whose message is "call now" or "be seen today": with the interrupts, they go out at once.
URGENT_OUTCOMES = frozenset({"outcome.emergency.action", "outcome.urgent.action", "outcome.urgent.action.child"})
TOLD = "escalation.told"


def urgent(replies: Sequence[SendReply]) -> bool:
    """Whether these replies carry an emergency or urgent message (a red-flag interrupt, a crisis message, an
    emergency or urgent outcome): they are sent at once, by the process that made them, never queued."""
    return any(
        r.kind == "interrupt" or r.call is not None or (r.kind == "outcome" and r.parts[0].key in URGENT_OUTCOMES)
        for r in replies
        if r.parts
    )


def untold(replies: Sequence[SendReply], number: Param) -> tuple[SendReply, ...]:
    """The replies without a promise that the clinic team knows, for when no case was stored: "I have also let the
    clinic team know" is left out, and a HUMAN request is asked to try again."""
    honest = []
    for reply in replies:
        parts = []
        for part in reply.parts:
            if part.key == TOLD:
                continue
            if part.key.startswith("command.human."):
                part = Text("notice.try_again", (("number", number),))
            parts.append(part)
        honest.append(dataclasses.replace(reply, parts=tuple(parts)))
    return tuple(honest)


@dataclass(frozen=True)
class Handled:
    """What one inbound event produced: the replies, the conversation's locale, and whether this message had
    been processed before (its replies then come from the dedupe record and nothing changed)."""

    replies: tuple[SendReply, ...]
    locale: str
    replayed: bool = False
    queued: bool = False  # the delivery job went to the send queue with the commit: a worker sends the replies
    deleted: bool = False  # the person's data was deleted: nothing about them may be written while replying
    offline: bool = False  # the store did not answer: nothing was stored, and the replies need nothing of it
    wrote_at: datetime | None = None  # when the person last wrote (this message, if it is theirs), when known

    @property
    def urgent(self) -> bool:
        return urgent(self.replies)


class ConflictError(Exception):
    """Another message for the same conversation kept winning the check-and-set."""


class EffectSink(Protocol):
    """Applies the effects other than replies (check-ins, escalation, audit, deletion). Escalate is applied on its
    own, before the turn is committed, so the reply can say whether the clinic team was told.
    `address` is where the person is reached (None in a terminal chat): check-ins need it."""

    async def escalate(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> bool:
        """The turn's Escalate effects: True when a case is stored for the clinic's staff (raises RedisError)."""
        ...

    def carried(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> Batch | None:
        """The writes of these effects that the turn's commit can carry (stored with the turn, only if it is)."""
        ...

    async def apply(
        self,
        participant: str,
        session: Session,
        effects: Sequence[Effect],
        address: Address | None,
        *,
        carried: bool = False,
    ) -> None:
        """After the commit: the effects, less what the commit `carried`."""
        ...


class LogSink:
    """Records effects in the log: kinds and conversation-level facts only, never text or identifiers."""

    async def escalate(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> bool:
        return False  # no clinic to tell

    def carried(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> Batch | None:
        return None

    async def apply(
        self,
        participant: str,
        session: Session,
        effects: Sequence[Effect],
        address: Address | None,
        *,
        carried: bool = False,
    ) -> None:
        for effect in effects:
            if not isinstance(effect, SendReply):
                log.debug("effect %s conversation=%s node=%s", type(effect).__name__, participant, session.node)


class Recent:
    """The conversations this process committed lately, so the next message of one skips the load: a message is
    then one round trip to the store, not two. Never trusted: the commit is checked against the stored revision, and
    when another process (or a deletion) moved it on, the store hands back what it holds and the turn runs again.

    A session is kept as its JSON, not as the object: a thousand sessions are some forty thousand objects, which
    every full collection of the garbage collector would walk (15 ms, in the middle of someone's request), where a
    thousand byte strings are nothing to it. Decoding one costs a few microseconds a message."""

    def __init__(
        self, size: int = RECENT_SIZE, for_s: float = RECENT_FOR_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size, self.for_s, self._clock = size, for_s, clock
        self._entries: OrderedDict[str, tuple[float, bytes, int]] = OrderedDict()

    def get(self, participant: str) -> Loaded | None:
        entry = self._entries.get(participant)
        if entry is None:
            return None
        at, session, revision = entry
        if self._clock() - at > self.for_s:
            del self._entries[participant]
            return None
        self._entries.move_to_end(participant)
        return Loaded(Session.model_validate_json(session), revision, None)

    def put(self, participant: str, session_json: bytes, revision: int) -> None:
        """`session_json`: the session as the store wrote it (Written.session_json)."""
        self._entries[participant] = (self._clock(), session_json, revision)
        self._entries.move_to_end(participant)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, participant: str) -> None:
        self._entries.pop(participant, None)

    def __len__(self) -> int:
        return len(self._entries)


class ConversationService:
    def __init__(
        self,
        content: Content,
        store: ConversationStore,
        clock: Clock,
        policy: Policy | None = None,
        sink: EffectSink | None = None,
    ) -> None:
        self.content, self.store, self.clock = content, store, clock
        # The country table is content (flows/countries.yaml): the engine gets it, and the countries' names (loaded
        # now, not on someone's first message), through the policy.
        regions = PhoneRegions(content.catalog.locales).load()
        self.policy = replace(policy or Policy(), countries=content.countries, regions=regions)
        self.sink = sink or LogSink()
        self.recent = Recent()

    async def handle(
        self,
        participant: str,
        event: Event,
        *,
        message_id: str | None = None,
        locale: str = "en",
        country: str | None = None,
        address: Address | None = None,
        queue: SendJob | None = None,
    ) -> Handled:
        """Run one inbound event; a message id seen before gets the replies it got then, and changes nothing (and
        none at all when the record of them is gone: the person deleted their data, or it is days old).

        With the store unreachable the red-flag screen still answers (it needs no storage); anything else is asked
        to try again shortly, with the emergency number. A check-in (from the worker, not the person) raises instead:
        its claim comes due again. `queue`: a send job, committed with the turn for a worker, unless the replies are
        urgent (the caller sends those itself, at once).
        """
        try:
            return await self._handle(participant, event, message_id, locale, country, address, queue)
        except RedisError as exc:
            if isinstance(event, CheckInDue | HandoffEnded):  # the worker's or staff's: retried, not answered
                raise
            log.warning("store unavailable (%s) conversation=%s", type(exc).__name__, participant)
            return await self._offline(participant, event, locale, country, address)

    async def _offline(
        self, participant: str, event: Event, locale: str, country: str | None, address: Address | None
    ) -> Handled:
        """Without the store: the red-flag message at once, without waiting on Redis again for a case or an audit
        entry it could not keep (so without "I have let the clinic team know"), else "try again shortly". A sign only
        asked about can't be answered so (its yes/no question needs the conversation kept): it gets the notice, which
        names the emergency number."""
        flow, now, language = self.content.intake, self.clock.now(), self.content.language
        number = self.policy.emergency(country).param
        if isinstance(event, MessageReceived) and language.screen(event.text).interrupt in PRIORITY:
            session = new_session(flow, now, locale, country).model_copy(update={"disclaimer_shown": True})
            turn = advance(flow, session, event, now, language=language, policy=self.policy)
            log.warning("red flag answered without the store: no case opened conversation=%s", participant)
            return Handled(untold(turn.replies, number), locale, offline=True)
        return Handled((SendReply(parts=(Text("notice.try_again", (("number", number),)),)),), locale, offline=True)

    def red_flag_reply(self, text: str, locale: str, country: str | None) -> tuple[SendReply, ...]:
        """The emergency (or clot, or crisis) message for words said outside any conversation (a group chat): no
        state, no case, no check-in. Nothing when the words carry no clear red flag."""
        language = self.content.language
        if language.screen(text).interrupt not in PRIORITY:
            return ()
        flow, now = self.content.intake, self.clock.now()
        # Stopped: no questions to pause and no check-ins, as after STOP; the red flag is answered all the same.
        session = new_session(flow, now, locale, country).model_copy(
            update={"disclaimer_shown": True, "status": SessionStatus.stopped}
        )
        policy = dataclasses.replace(self.policy, escalation="off")
        return advance(flow, session, MessageReceived(text), now, policy=policy, language=language).replies

    async def _handle(
        self,
        participant: str,
        event: Event,
        message_id: str | None,
        locale: str,
        country: str | None,
        address: Address | None,
        queue: SendJob | None = None,
    ) -> Handled:
        flow = self.content.intake
        if message_id is None:
            queue = None  # a job names the message whose replies it sends
        provider = message_id is not None and not isinstance(event, CheckInDue | HandoffEnded)
        # A person's messages (not the worker's check-ins) start from what this process last committed, if it
        # remembers: the commit checks it is still what is stored. A check-in loads: it needs to know when the
        # person last wrote.
        loaded = self.recent.get(participant) if provider else None
        checked = loaded is None  # whether the store was asked if this message was seen before
        if loaded is None:
            loaded = await self.store.load(participant, message_id, provider=provider)
            if loaded.replay is not None:
                return await self._replayed(participant, loaded, loaded.replay, locale, queue)
            if loaded.processed:
                return self._spent(participant, locale)
        told: bool | None = None  # whether this message's case is stored (None: nothing escalated yet)
        wrote_at = loaded.wrote_at  # when the person last wrote: now, if this is their message
        for _ in range(MAX_ATTEMPTS):
            if loaded.session is None and isinstance(event, CheckInDue | HandoffEnded):
                return Handled((), locale)  # deleted, or expired: nobody to ask or tell
            now = self.clock.now()
            if provider:
                wrote_at = now
            session = loaded.session or new_session(flow, now, locale, country)
            turn = advance(
                flow,
                session,
                event,
                now,
                policy=self.policy,
                checkin=self.content.checkin,
                language=self.content.language,
            )
            follow_ups = _follow_ups(turn)
            escalates = told is None and any(isinstance(e, Escalate) for e in follow_ups)
            if escalates and not checked:
                # The case is opened before the commit, which is where a repeated message is caught: ask first,
                # so a replay (a retried webhook, a message days old) never opens a case or pages anyone again.
                checked, fresh = True, await self.store.load(participant, message_id, provider=provider)
                if fresh.replay is not None:
                    return await self._replayed(participant, fresh, fresh.replay, locale, queue)
                if fresh.processed:
                    return self._spent(participant, locale)
                if fresh.revision != loaded.revision:
                    loaded = fresh
                    continue
            if escalates:
                told = await self._escalate(participant, turn.session, follow_ups, address)
            replies = turn.replies
            if told is False:  # no case (escalation is off, or the escalation was no case's business)
                replies = untold(replies, self.policy.emergency(turn.session.country).param)
            follow_ups = [e for e in follow_ups if not isinstance(e, Escalate)]
            if any(isinstance(e, DeleteData) for e in follow_ups):
                self.recent.drop(participant)
                await self._apply(participant, turn.session, follow_ups, address)
                await self.store.delete(participant)
                return Handled(replies, turn.session.locale, deleted=True)
            then = self.sink.carried(participant, turn.session, follow_ups, address)
            job = None if urgent(replies) else queue
            submitted = await self.store.submit(
                participant,
                loaded.revision,
                turn.session,
                outbox=encode_replies(replies),
                message_id=message_id,
                provider=provider,
                wrote_at=now if provider else None,
                queue=job,
                then=then,
            )
            match submitted:
                case Written(revision, session_json):
                    if message_id is not None:
                        self.recent.put(participant, session_json, revision)
                    log.debug(
                        "turn conversation=%s node=%s status=%s",
                        participant,
                        turn.session.node,
                        turn.session.status.value,
                    )
                    await self._apply(participant, turn.session, follow_ups, address, carried=then is not None)
                    return Handled(replies, turn.session.locale, queued=bool(job), wrote_at=wrote_at)
                case Replayed(outbox):  # the job, if any, was queued again in the same step
                    return self._handed_back(participant, loaded, outbox, locale, queued=bool(job))
                case Processed():
                    return self._spent(participant, locale)
                case Stale(current):
                    loaded = current
        raise ConflictError(participant)

    async def _escalate(
        self, participant: str, session: Session, effects: Sequence[Effect], address: Address | None
    ) -> bool:
        """Whether a case is stored. A store that fails here fails the turn (it is the same Redis): the person gets
        the offline reply at once, rather than after the commit's own wait for a store that is not there."""
        try:
            return await self.sink.escalate(participant, session, effects, address)
        except RedisError as exc:
            log.error("case not opened (%s) conversation=%s", type(exc).__name__, participant)
            raise

    async def _replayed(
        self, participant: str, loaded: Loaded, outbox: str, locale: str, queue: SendJob | None
    ) -> Handled:
        """A message processed before, found by the load. Its sending may not have finished: a worker's job is
        queued again (what was sent is skipped), unless the replies are urgent, which the caller sends itself."""
        replies = decode_replies(outbox)
        requeue = bool(queue) and not urgent(replies)
        if queue and requeue:
            await self.store.enqueue(queue)
        log.info("duplicate message conversation=%s", participant)
        known = loaded.session.locale if loaded.session else locale
        return Handled(replies, known, replayed=True, queued=requeue)

    def _handed_back(self, participant: str, loaded: Loaded, outbox: str, locale: str, *, queued: bool) -> Handled:
        """A message processed before, found by the commit (which queued its job again if it was given one)."""
        log.info("duplicate message conversation=%s", participant)
        known = loaded.session.locale if loaded.session else locale
        return Handled(decode_replies(outbox), known, replayed=True, queued=queued)

    def _spent(self, participant: str, locale: str) -> Handled:
        log.info("message processed before, its record gone; ignored conversation=%s", participant)
        return Handled((), locale, replayed=True)

    async def session(self, participant: str) -> Session | None:
        return (await self.store.load(participant)).session

    async def _apply(
        self,
        participant: str,
        session: Session,
        follow_ups: list[Effect],
        address: Address | None,
        *,
        carried: bool = False,
    ) -> None:
        """After the commit: the turn's `follow_ups` (its effects other than replies and escalations). The turn
        stands whatever happens here, so a failure is logged, not raised (the replies, which tell the person what to
        do, must still go out)."""
        if not follow_ups:
            return
        try:
            await self.sink.apply(participant, session, follow_ups, address, carried=carried)
        except RedisError as exc:
            log.error("follow-up effects not applied (%s) conversation=%s", type(exc).__name__, participant)


def _follow_ups(turn: Turn) -> list[Effect]:
    return [e for e in turn.effects if not isinstance(e, SendReply)]


def encode_replies(replies: Sequence[SendReply]) -> str:
    """The replies as JSON (what dataclasses.asdict would give, built directly: this runs on every message)."""
    return "[" + ",".join([_encoded(r) for r in replies]) + "]"


@functools.lru_cache(maxsize=1024)
def _encoded(reply: SendReply) -> str:
    """One reply's JSON, remembered: most replies are the same few questions, and a reply hashes in a tenth of the
    time it takes to encode."""
    return json.dumps(_reply_json(reply), separators=(",", ":"))


def _text_json(text: Text) -> dict[str, Any]:
    return {"key": text.key, "params": [[n, list(v) if isinstance(v, tuple) else v] for n, v in text.params]}


def _reply_json(reply: SendReply) -> dict[str, Any]:
    return {
        "parts": [_text_json(p) for p in reply.parts],
        "choices": [{"id": c.id, "label": _text_json(c.label)} for c in reply.choices],
        "node": reply.node,
        "kind": reply.kind,
        "call": reply.call,
        "more": [{"id": c.id, "label": _text_json(c.label)} for c in reply.more],
    }


def decode_replies(raw: str) -> tuple[SendReply, ...]:
    if not raw:
        return ()
    return tuple(_reply(item) for item in json.loads(raw))


def _text(data: dict[str, Any]) -> Text:
    params = tuple((name, tuple(value) if isinstance(value, list) else value) for name, value in data["params"])
    return Text(data["key"], params)


def _reply(data: dict[str, Any]) -> SendReply:
    return SendReply(
        parts=tuple(_text(p) for p in data["parts"]),
        choices=tuple(ChoiceOption(c["id"], _text(c["label"])) for c in data["choices"]),
        node=data["node"],
        kind=data["kind"],
        call=data["call"],
        more=tuple(ChoiceOption(c["id"], _text(c["label"])) for c in data.get("more", ())),  # older records: none
    )
