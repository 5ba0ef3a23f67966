"""What a message means at a question: the readings bot.triage.matching returns, for the engine to act on. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.triage.session import Answer


@dataclass(frozen=True)
class Answered:
    """The answer to record: one choice id, several (a node that keeps all), or one number as text ("34", "1.5",
    "unsure"). `named`: every choice the message named, when the node kept fewer (`several: most_serious`)."""

    values: tuple[str, ...]
    named: tuple[str, ...] = ()

    def answer(self, node: str) -> Answer:
        return Answer(node=node, value=self.values[0], also=self.values[1:])


@dataclass(frozen=True)
class Several:
    """Several choices named at a question that takes one and does not say which wins: ask which."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class WhichOne:
    """A plain "yes" to a list without a yes: ask which one."""


@dataclass(frozen=True)
class Help:
    """A question about the question ("?", "what do you mean", "help"): explain it, count nothing."""


Failure = Literal["not_understood", "out_of_range", "vague"]


@dataclass(frozen=True)
class Unclear:
    """No answer: `reason` says how it failed ("vague": "really bad" where a number is asked), `key` is the reply
    that says what the question takes ("answer.age_range": "Please give the age in years, like 45")."""

    reason: Failure
    key: str


@dataclass(frozen=True)
class CommandWord:
    """The whole message is a command word ("STOP", "in English please") and no answer to this question."""

    name: str
    argument: str = ""


Reading = Answered | Several | WhichOne | Help | Unclear | CommandWord

NOT_UNDERSTOOD = "answer.not_understood"
# The reply for each way a number question can fail: (not understood, out of range, vague).
NUMBER_REPLIES: Mapping[str, tuple[str, str, str]] = {
    "integer": ("answer.number_invalid", "answer.number_invalid", "answer.number_invalid"),
    "days": ("answer.days_invalid", "answer.days_range", "answer.days_vague"),
    "age": ("answer.age_invalid", "answer.age_range", "answer.age_vague"),
    "score": ("answer.score_invalid", "answer.score_range", "answer.score_vague"),
}
REPLY_KEYS = frozenset({NOT_UNDERSTOOD, *(k for keys in NUMBER_REPLIES.values() for k in keys)})
