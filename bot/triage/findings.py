"""Findings (what the questions establish), levels and cause codes: the contract in DESIGN.md. Pure."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Level(StrEnum):
    self_care = "self_care"
    soon = "soon"
    urgent = "urgent"
    emergency = "emergency"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {Level.self_care: 0, Level.soon: 1, Level.urgent: 2, Level.emergency: 3}

Cause = Literal[
    "cramp",
    "calf_strain",
    "hamstring_strain",
    "popliteus_strain",
    "ligament_injury",
    "meniscus_tear",
    "bakers_cyst",
    "ruptured_bakers_cyst",
    "osteoarthritis",
    "inflammatory_arthritis",
    "bursitis",
    "patellar_tendinopathy",
    "patellofemoral_pain",
    "dvt",
    "pulmonary_embolism",
    "lumbar_radiculopathy",
    "septic_arthritis",
    "fracture",
    "vascular",
    "compartment_syndrome",
    "tumour",
    "cauda_equina",
]
CAUSES: tuple[str, ...] = Cause.__args__  # type: ignore[attr-defined]


class Findings(BaseModel):
    """Every field optional: None means not asked or unknown. Unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["female", "male", "other"] | None = None
    onset: Literal["sudden", "gradual"] | None = None
    duration_days: float | None = Field(default=None, ge=0, le=36500)
    pain_score: int | None = Field(default=None, ge=0, le=10)
    trauma: bool | None = None
    pop_at_injury: bool | None = None
    rapid_swelling_within_hours: bool | None = None
    getting_worse_or_not_improving: bool | None = None
    swelling: bool | None = None
    lump_behind_knee: bool | None = None
    pulsatile_lump: bool | None = None
    known_bakers_cyst: bool | None = None
    known_osteoarthritis: bool | None = None
    other_joints_affected: bool | None = None
    locking: bool | None = None
    cannot_straighten: bool | None = None
    giving_way: bool | None = None
    cannot_bear_weight: bool | None = None
    obvious_deformity: bool | None = None
    redness_warmth: bool | None = None
    fever: bool | None = None
    feels_very_unwell: bool | None = None
    calf_swelling_one_side: bool | None = None
    tense_calf_pain_out_of_proportion: bool | None = None
    both_legs: bool | None = None
    prior_clot: bool | None = None
    recent_surgery_or_immobilisation: bool | None = None
    long_travel_over_4h: bool | None = None
    cancer: bool | None = None
    hormone_therapy_or_pregnancy: bool | None = None
    short_of_breath: bool | None = None
    chest_pain: bool | None = None
    coughing_blood: bool | None = None
    fainting_or_collapse: bool | None = None
    cold_pale_foot: bool | None = None
    back_pain: bool | None = None
    radiating_burning_pain: bool | None = None
    worse_sitting_coughing: bool | None = None
    saddle_numbness_or_bladder_bowel: bool | None = None
    leg_weakness_or_foot_drop: bool | None = None
    night_pain_weight_loss: bool | None = None
    calf_pain_or_tenderness: bool | None = None
    cannot_bend_90: bool | None = None


FINDING_NAMES: tuple[str, ...] = tuple(Findings.model_fields)
BOOLEAN_FINDINGS: tuple[str, ...] = tuple(
    name for name, field in Findings.model_fields.items() if field.annotation == (bool | None)
)
