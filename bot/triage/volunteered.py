"""What people say without being asked: findings stated in free text at any point ("my calf has been swollen since the
flight", "I'm 32 weeks pregnant", "I'm 34", "fell off my bike yesterday"). Each phrase is weighed where it stands by the
red-flag screen's reading of clauses (bot.triage.clauses): denied ("no swelling"), past ("fell years ago"), supposed
("what if I'm pregnant") or said of someone else ("my sister had a clot") is no finding. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.triage.clauses import Reading, Status
from bot.triage.finding_words import FindingPhrases
from bot.triage.flow import UNSURE, FlowDefinition
from bot.triage.language import Language
from bot.triage.lexicon import Hit
from bot.triage.matching import read_answer
from bot.triage.reading import Answered

Value = bool | int | float | str


@dataclass(frozen=True)
class Said:
    """`findings`: what the message states (positive findings, and numbers), by finding name. `denied`: findings it
    denies ("my calf isn't swollen"), which take back what was said before."""

    findings: Mapping[str, Value] = field(default_factory=dict)
    denied: frozenset[str] = frozenset()


NOTHING = Said()


def said_in(language: Language, flow: FlowDefinition, text: str, now: datetime) -> Said:
    """The findings `text` states, read in every language at once; numbers as `flow`'s question for them reads its
    answer (an age in years, a duration in days counted from `now`, a score out of 10)."""
    phrases = language.findings
    if not phrases.phrase_sets:
        return NOTHING
    tokens = language.lexicon.read(text)
    if not tokens:
        return NOTHING
    tokens = (*tokens, ".")  # the message's end is a clause's: "i am 34" ends as "i am 34." does
    found = phrases.find(tokens)
    if not found.said and not found.numbers:
        return NOTHING
    reading = Reading(tokens, found.context)
    others = _starts(found.context, "other_people")
    speaker = _starts(found.context, "speaker")
    findings: dict[str, Value] = {}
    denied: set[str] = set()
    for key, hits in found.said.items():
        name, _, value = key.partition("=")
        status = max(
            (_status(reading, h, phrases, name) for h in hits if not _someone_else(reading, h, others, speaker)),
            default=Status.absent,
        )
        if status is Status.live:
            findings[name] = value or True
        elif status is Status.denied:
            denied.add(name)
    for name, hits in found.numbers.items():
        number = _number(language, flow, name, tokens, [h for h in hits if reading.status(h) is Status.live], now)
        if number is not None:
            findings[name] = number
    return Said(findings, frozenset(denied - set(findings)))


def _status(reading: Reading, hit: Hit, phrases: FindingPhrases, name: str) -> Status:
    return reading.status(hit, ever=name in phrases.ever)


def _starts(context: Mapping[str, list[Hit]], name: str) -> list[int]:
    return sorted(h.start for h in context.get(name, ()))


def _someone_else(reading: Reading, hit: Hit, others: Sequence[int], speaker: Sequence[int]) -> bool:
    """Said of someone else ("my sister had a clot", "she is on the pill"): another person named before the phrase in
    its clause, with the person writing not named between them."""
    clause = reading.clause[hit.start]
    return any(
        other < hit.start
        and reading.clause[other] == clause
        and not any(other < s < hit.start and reading.clause[s] == clause for s in speaker)
        for other in others
    )


def _number(
    language: Language, flow: FlowDefinition, name: str, tokens: Sequence[str], hits: Sequence[Hit], now: datetime
) -> Value | None:
    """The number the phrases around it state, read by the flow's question for that finding; None when the flow
    has no such question, or the phrases say different numbers."""
    node_id = next((n for n, node in flow.nodes.items() if node.kind == "number" and node.finding == name), None)
    if node_id is None:
        return None
    node = flow.nodes[node_id]
    values: set[float] = set()
    for hit in hits:
        reading = read_answer(language, flow, node_id, " ".join(tokens[hit.start : hit.end]), now)
        if isinstance(reading, Answered) and reading.values[0] != UNSURE:
            values.add(float(reading.values[0]))
    if len(values) != 1:
        return None
    value = values.pop()
    return value if node.parse == "days" else int(value)
