"""Runs a whole conversation for a persona through the real engine, channel rendering and store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.channels.render import as_text, has_buttons
from bot.clock import Clock
from bot.content.loader import Content
from bot.shell.conversation import ConversationService
from bot.storage.conversations import MemoryConversationStore
from bot.triage.effects import SendReply
from bot.triage.events import ChoiceSelected, CommandReceived, Event, MessageReceived
from bot.triage.findings import BOOLEAN_FINDINGS, Findings
from bot.triage.flow import UNSURE, FlowDefinition

MAX_TURNS = 60
PARTICIPANT = "sim"


@dataclass
class Transcript:
    turns: list[dict[str, Any]] = field(default_factory=list)
    questions_asked: int = 0


def persona_answer(flow: FlowDefinition, node_id: str, persona: Findings) -> str:
    """The answer a persona gives: the choice its findings agree with (most positives first); else no / not sure."""
    node = flow.nodes[node_id]
    if node.kind == "number":
        value = getattr(persona, node.finding or "")
        if value is None:
            return UNSURE
        return str(int(value)) if node.parse == "integer" else f"{value:g}"
    known = persona.model_dump(exclude_none=True)
    best, best_score = None, -1
    for choice in node.choices:
        agrees = all(known.get(k, False if k in BOOLEAN_FINDINGS else None) == v for k, v in choice.sets.items())
        score = sum(v is True for v in choice.sets.values())
        if choice.sets and agrees and score > best_score:
            best, best_score = choice.id, score
    if best is not None:
        return best
    ids = [c.id for c in node.choices]
    return next((i for i in ("no", "none", UNSURE) if i in ids), ids[-1])


async def simulate(
    content: Content,
    persona: Findings,
    clock: Clock,
    *,
    channel: str = "sms",
    locale: str = "en",
    say: Sequence[str] = (),
) -> dict[str, Any]:
    service = ConversationService(content, MemoryConversationStore(), clock)
    catalog, flow = content.catalog, content.intake
    transcript = Transcript()
    pending_say = list(say)

    def record_bot(replies: Sequence[SendReply], session_locale: str) -> SendReply | None:
        question = None
        for reply in replies:
            text = as_text(reply, catalog, session_locale, channel)
            key = reply.parts[-1].key if reply.kind == "question" else reply.parts[0].key
            transcript.turns.append({"from": "bot", "text": text, "key": key})
            if reply.kind == "question":
                transcript.questions_asked += 1
                question = reply
        return question

    handled = await service.handle(PARTICIPANT, CommandReceived("start"), locale=locale)
    question = record_bot(handled.replies, handled.locale)
    answered = 0
    while question is not None and question.node is not None and len(transcript.turns) < MAX_TURNS:
        answered += 1
        event: Event
        if answered >= 2 and pending_say:
            text = pending_say.pop(0)
            event, key = MessageReceived(text), None
        else:
            value = persona_answer(flow, question.node, persona)
            ids = [c.id for c in question.choices]
            if not ids:
                text, key = ("not sure" if value == UNSURE else value), None
                event = MessageReceived(text)
            elif not has_buttons(channel):
                text, key = str(ids.index(value) + 1), question.choices[ids.index(value)].label.key
                event = MessageReceived(text)
            else:
                label = question.choices[ids.index(value)].label
                text, key = catalog.render(label, handled.locale), label.key
                event = ChoiceSelected(question.node, value)
        transcript.turns.append({"from": "user", "text": text, "key": key})
        handled = await service.handle(PARTICIPANT, event, locale=locale)
        question = record_bot(handled.replies, handled.locale)
    session = await service.session(PARTICIPANT)
    outcome = None
    if session is not None and session.assessment is not None:
        outcome = {"level": session.assessment.level.value, "causes": [c.code for c in session.assessment.causes]}
    return {
        "outcome": outcome,
        "interrupt": session.interrupt if session else None,
        "questions_asked": transcript.questions_asked,
        "turns": transcript.turns,
    }
