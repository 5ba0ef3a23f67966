"""The conversation's state: one typed record, stored as one JSON value. Pure."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.triage.assessment import Assessment
from bot.triage.findings import Level

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
    started_at: datetime
    updated_at: datetime
