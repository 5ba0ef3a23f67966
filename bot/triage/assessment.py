"""The result of triage: a level, ranked likely causes, the red flags that fired and the rule ids. Pure."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.triage.findings import Cause, Level


class CauseHit(BaseModel):
    """A likely cause and the message key of its plain-language reason (`why.<rule_id>`)."""

    model_config = ConfigDict(frozen=True)

    code: Cause
    why: str


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Level
    causes: tuple[CauseHit, ...] = ()
    red_flags: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
