"""The conversation's state: one typed record, stored as one JSON value. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.triage.assessment import Assessment
from bot.triage.findings import Findings, Level

SCHEMA_VERSION = 1


class SessionStatus(StrEnum):
    active = "active"  # asking questions
    completed = "completed"  # assessment given
    escalated = "escalated"  # a red flag interrupted the questions
    stopped = "stopped"  # the person opted out: nothing is sent until they start again


class Answer(BaseModel):
    """One answered question: the node id and the choice id (or the parsed number, as text); `also`, the other
    choices kept when several apply ("it locks and gives way")."""

    model_config = ConfigDict(frozen=True)

    node: str
    value: str
    also: tuple[str, ...] = ()


class Position(BaseModel):
    """Where a conversation stood: what a safety question goes back to when it is answered "no"."""

    model_config = ConfigDict(frozen=True)

    flow_id: str
    flow_version: int
    node: str | None
    status: SessionStatus
    level: Level | None = None
    interrupt: str | None = None


# Why a safety question is pending: the screen was unsure of a sign ("confirm"); the person took back a sign that
# interrupted ("withdrawal"); an urgent clot message asks the emergency signs of a clot in the lung at once ("clot");
# a new set of questions asks first about the signs remembered from the last 24 hours ("danger").
SafetyKind = Literal["confirm", "withdrawal", "clot", "danger"]
# A handoff to a person: the consent question pending ("asked", "asked_again"), or the person talking to staff.
Handoff = Literal["asked", "asked_again", "open"]
# How long an emergency or urgent message stays with the person: a new set of questions within it is at least its level.
DANGER_LASTS = timedelta(hours=24)


class SafetyCheck(BaseModel):
    """A yes/no question about `flags` the person has been asked and not yet answered (asked `asked` times)."""

    model_config = ConfigDict(frozen=True)

    kind: SafetyKind
    flags: tuple[str, ...]
    resume: Position
    asked: int = 1
    someone_else: tuple[str, ...] = ()  # of `flags`, those said only of another person (Session.someone_else)


class Danger(BaseModel):
    """An emergency or urgent interrupt or outcome, remembered for DANGER_LASTS from `at` (the conversation's clock).
    `signs`: red-flag ids (flows/redflags.yaml), each with its direct yes/no question, asked at the start of new
    questions; `cleared`: those since answered with a clear "no" (or taken back). `held`: an outcome's red-flag rule
    with no single sign to ask about, so the level stands until the danger expires."""

    model_config = ConfigDict(frozen=True)

    level: Level
    signs: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()
    held: bool = False
    at: datetime

    @property
    def open_signs(self) -> tuple[str, ...]:
        return tuple(sign for sign in self.signs if sign not in self.cleared)

    def recent(self, now: datetime) -> bool:
        """Within its 24 hours: its check-in still follows it up, whatever was answered since."""
        return now - self.at < DANGER_LASTS

    def stands(self, now: datetime) -> bool:
        """Within its 24 hours with a sign still open or a level held: new questions are at least its level."""
        return self.recent(now) and (bool(self.open_signs) or self.held)


class Session(BaseModel):
    model_config = ConfigDict(frozen=True)

    v: int = SCHEMA_VERSION
    flow_id: str
    flow_version: int
    node: str | None
    status: SessionStatus = SessionStatus.active
    locale: str = "en"
    country: str | None = None
    answers: tuple[Answer, ...] = ()
    assessment: Assessment | None = None
    interrupt: str | None = None
    red_flags: tuple[str, ...] = ()
    disclaimer_shown: bool = False
    checkins_scheduled: int = 0
    level: Level | None = None  # the latest disposition: from the assessment, or from a red-flag interrupt
    assessed_at: datetime | None = None  # when that level was given
    checkin_seq: int = 0  # the check-in being (or last) asked
    safety_check: SafetyCheck | None = None  # a safety question waiting for its answer
    paused: Position | None = None  # where the questions were when an emergency or urgent interrupt paused them
    # What the person said without being asked ("I'm 34", "fell off my bike"): positive findings only, never a "no"
    # read from silence. The questions they answer are skipped or asked with "You told me ...".
    volunteered: Findings = Findings()
    times_asked: int = 0  # how many times in a row the pending question has been asked
    unclear: tuple[str, ...] = ()  # why each reply to it in a row was not understood ("not_understood", "vague")
    locale_set: bool = False  # the language was chosen (by a command, or read from the first messages): kept
    started_at: datetime
    updated_at: datetime
    # New fields come last, with defaults, so stored sessions load.
    danger: Danger | None = None  # an emergency or urgent message of the last 24 hours
    # The last assessment's answers: kept while a check-in's own answers are in `answers`; after "worse", the ones that
    # cannot have changed (age, how it started, the duration grown by the time since), given without asking again.
    previous: tuple[Answer, ...] = ()
    # HUMAN with the clinic's staff on duty: consent to share contact and messages asked (once, or again after a
    # reply that was no answer), then, with it, the person talking to staff until they close the case.
    handoff: Handoff | None = None
    # Check-ins asked again because the person had not been seen yet after an emergency or urgent message ("not yet",
    # "couldn't be seen"); counted since the last assessment, up to engine.RECHECKS.
    rechecks: int = 0
    # Of `red_flags`, the crisis signs said only of another person ("my son wants to kill himself"): the crisis
    # message, its questions and the check-in after it are worded for someone worried about them.
    someone_else: tuple[str, ...] = ()
