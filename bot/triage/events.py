"""Events: facts that go into the engine. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageReceived:
    """Free text from the person (typed, or a numbered SMS reply)."""

    text: str


@dataclass(frozen=True)
class ChoiceSelected:
    """A button press: the node it belonged to and the choice id."""

    node: str
    choice: str


@dataclass(frozen=True)
class CommandReceived:
    """A command, from a channel (/stop) or typed as a word (STOP): see phrasebook.COMMANDS."""

    command: str
    argument: str = ""


@dataclass(frozen=True)
class CheckInDue:
    """The scheduler says check-in `seq` is due: ask how the knee is (from the worker, never from the person)."""

    seq: int


@dataclass(frozen=True)
class HandoffEnded:
    """The clinic's staff closed the case the person was talking to them in: kneebot takes the conversation back
    (from the shell, never from the person)."""


Event = MessageReceived | ChoiceSelected | CommandReceived | CheckInDue | HandoffEnded
