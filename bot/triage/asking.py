"""Asking a question until it is answered, and no longer: what each reply that is no answer gets back (an explanation,
"which one?", what the question takes, the choices with NOT SURE and HUMAN), the answer recorded after the third
try, and the questions what the person volunteered already answers. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.triage.effects import Text
from bot.triage.finding_words import finding_key, said_key
from bot.triage.findings import Findings
from bot.triage.flow import UNSURE, FlowDefinition
from bot.triage.reading import REPLY_KEYS, Help, Reading, Several, Unclear, WhichOne
from bot.triage.session import Answer

MAX_ASKED = 3  # no question is asked more than three times in a row
NEGATIVE = ("none", "no")
AGAIN = "answer.again"  # the second time: the choices, NOT SURE and HUMAN
OR_HUMAN = "answer.or_human"
WHICH_ONE = "answer.which_one"
WHICH_OF = "answer.which_of"
NOTED = "answer.noted"  # the third time: what was recorded instead, and on we go
SAID_LEAD = "said.lead"  # "You told me {facts}." before the question it answers
SAID_KEPT = "said.kept"  # the same before an any-of-these question: "..., so I have noted that."
SAID_NOTED = "said.noted"  # no answer to this question, but something worth keeping: "Thank you, I have noted that."
MESSAGE_KEYS = (AGAIN, OR_HUMAN, WHICH_ONE, WHICH_OF, NOTED, SAID_LEAD, SAID_KEPT, SAID_NOTED)
# The replies that ask the person to say it again: what `kneebot chat --json` reports as "misunderstood".
ASKED_AGAIN = frozenset({*REPLY_KEYS, AGAIN, "safety.again"})


def retry(flow: FlowDefinition, node_id: str, reading: Reading, unclear: Sequence[str]) -> tuple[Text, ...]:
    """What a reply that is no answer gets before the question is asked again. `unclear`: why each earlier reply to
    this question in a row was not understood."""
    node = flow.nodes[node_id]
    if isinstance(reading, Help):
        return (Text(flow.help_key(node_id)),)
    if isinstance(reading, Several):
        return (Text(WHICH_OF, (("choices", tuple(_label(flow, node_id, c) for c in reading.values)),)),)
    if isinstance(reading, WhichOne):
        return (Text(WHICH_ONE),)
    assert isinstance(reading, Unclear)
    if not unclear:
        return (Text(reading.key),)
    return (Text(reading.key), Text(OR_HUMAN)) if node.kind == "number" else (Text(AGAIN),)


def given_up(flow: FlowDefinition, node_id: str) -> tuple[str, Text]:
    """The answer recorded for a question asked three times without one (the safer side), and the words that say
    so."""
    node = flow.nodes[node_id]
    value = node.fallback_choice()
    label = "choice.unsure" if node.kind == "number" else _label(flow, node_id, value)
    return value, Text(NOTED, (("answer", (label,)),))


def offered(flow: FlowDefinition, node_id: str, said: Findings) -> tuple[str, ...]:
    """The choices of a question that `said` (findings volunteered) already states: each choice with something to
    say (a yes, an onset) whose every such finding was said. A "no" is never read from silence, so choices that only
    deny are never among them."""
    node = flow.nodes[node_id]
    if node.kind != "choice":
        return ()
    known = said.model_dump(exclude_none=True)
    out = []
    for choice in node.choices:
        stated = _stated(choice.sets)
        if stated and all(known.get(name) == value for name, value in stated):
            out.append(choice.id)
    return tuple(out)


def skipped(flow: FlowDefinition, node_id: str, said: Findings) -> Answer | None:
    """The answer to a question what was volunteered gives outright, so it need not be asked: a number ("I'm 34",
    "3 days ago"); at a question that keeps the most serious answer, the most serious one ("fell off my bike"); at a
    question with one answer, the one it states ("I can't put any weight on it", "it's getting worse"). Only what
    was said is recorded: a question that may have a more serious answer nobody mentioned is asked."""
    node = flow.nodes[node_id]
    if node.kind == "number":
        value = getattr(said, node.finding or "", None)
        if value is None or not node.min <= value <= node.max:
            return None
        return Answer(node=node_id, value=f"{value:g}" if node.parse == "days" else str(int(value)))
    named = offered(flow, node_id, said)
    if not named:
        return None
    if node.several == "most_serious" and named[0] == node.choices[0].id:
        return Answer(node=node_id, value=named[0])
    sets = [flow.choice(node_id, c).sets for c in named]  # type: ignore[union-attr]
    if node.several is None and all(s == sets[0] for s in sets):  # one answer, or several that state the same
        return Answer(node=node_id, value=named[-1])
    return None


def merged(flow: FlowDefinition, node_id: str, values: Sequence[str], said: Sequence[str]) -> Answer:
    """The answer to record: the choices given, with those the person had already volunteered (`said`) at a
    question that takes several. "None of the others" keeps what was volunteered: it comes first, so the volunteered
    choices' findings stand over its denials."""
    node = flow.nodes[node_id]
    ids = [c.id for c in node.choices]
    if not said or node.several is None:
        return Answer(node=node_id, value=values[0], also=tuple(values[1:]))
    positives = [i for i in ids if (i in values or i in said) and i not in NEGATIVE and i != UNSURE]
    if node.several == "most_serious" and positives and UNSURE not in values:
        return Answer(node=node_id, value=positives[0])
    if not any(v in positives for v in values):
        return Answer(node=node_id, value=values[0], also=tuple(positives))
    return Answer(node=node_id, value=positives[0], also=tuple(positives[1:]))


def said_lead(flow: FlowDefinition, node_id: str, said: Sequence[str]) -> Text:
    """ "You told me {facts}." before a question they bear on; at an any-of-these question, "... so I have noted
    that", and the rest is still offered."""
    node = flow.nodes[node_id]
    facts = tuple(dict.fromkeys(_said_keys(flow, node_id, said)))
    return Text(SAID_KEPT if node.several == "all" else SAID_LEAD, (("facts", facts),))


def _said_keys(flow: FlowDefinition, node_id: str, said: Iterable[str]) -> Iterable[str]:
    for choice_id in said:
        choice = flow.choice(node_id, choice_id)
        assert choice is not None
        for name, value in _stated(choice.sets):
            yield said_key(finding_key(name, value))


def _stated(sets: Mapping[str, object]) -> list[tuple[str, object]]:
    """What a choice states, as opposed to denies: its true findings and its values of words."""
    return [(name, value) for name, value in sets.items() if value is True or isinstance(value, str)]


def _label(flow: FlowDefinition, node_id: str, choice_id: str) -> str:
    choice = flow.choice(node_id, choice_id)
    assert choice is not None
    return flow.label_key(node_id, choice)
