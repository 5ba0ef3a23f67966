"""What an emergency or urgent message leaves behind for 24 hours: the signs to ask about again (each has its direct
yes/no question in the red-flag table), or a level that stands; and the emergency signs asked at once after an urgent
clot message. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.triage import rules
from bot.triage.assessment import Assessment
from bot.triage.findings import Level
from bot.triage.session import Danger

# A clot in the leg can travel to the lung: after the urgent clot message, these are asked at once, "in the last 24
# hours", in one yes/no question (REFERENCE.md "How emergency messages are worded", 6; NICE NG158: suspected PE is
# assessed before DVT).
PE_SIGNS: tuple[str, ...] = ("short_of_breath", "chest_pain", "coughing_blood", "fainting")

# An outcome's red-flag rule -> the red flags (flows/redflags.yaml) whose yes/no question asks about its sign now,
# each at the rule's own level, so a "yes" gives a message at least that serious and a clear "no" means the sign has
# gone. A rule not listed has no single sign to ask about (an injury with an age, a knee that swelled within hours, a
# score): its level stands for the 24 hours.
RULE_SIGNS: Mapping[str, tuple[str, ...]] = {
    "pe_breathing": ("short_of_breath",),
    "pe_chest_pain": ("chest_pain",),
    "pe_coughing_blood": ("coughing_blood",),
    "fainting": ("fainting",),
    "limb_ischaemia": ("cold_pale_foot",),
    "septic_knee_fever": ("septic_knee",),
    "child_fever_not_walking": ("child_fever_limp",),
    "cauda_equina": ("saddle_numbness", "bladder_bowel"),
    "nerve_signs_both_legs": ("both_legs_nerve",),
    "compartment": ("compartment",),
    "deformity": ("deformity",),
    # "Right now, is one calf or leg swollen, sore, warm or red?": every calf sign the rule reads.
    "dvt_prior_clot": ("clot_concern",),
    "ruptured_bakers_cyst": ("calf_clot_signs",),
    "dvt_calf_risk": ("calf_clot_signs",),
    "dvt_calf_tender_risk": ("calf_pain_risk",),
    "dvt_calf_signs": ("calf_clot_signs",),
    "warm_red_leg": ("calf_hot_red",),
}


def of_outcome(assessment: Assessment, certain: Assessment, at: datetime) -> Danger | None:
    """What an outcome leaves behind: None below urgent. `certain` is the assessment without the "not sure" answers:
    a level that only "not sure" set has no sign the person gave, so it stands."""
    if assessment.level < Level.urgent:
        return None
    if assessment.level > certain.level:
        return Danger(level=assessment.level, held=True, at=at)
    deciding = rules.deciding_rules(assessment)
    signs = tuple(dict.fromkeys(sign for rule in deciding for sign in RULE_SIGNS.get(rule.id, ())))
    held = not deciding or any(rule.id not in RULE_SIGNS for rule in deciding)
    return Danger(level=assessment.level, signs=signs, held=held, at=at)


def merged(old: Danger | None, new: Danger, now: datetime) -> Danger:
    """`new` beside what is left of `old` within its 24 hours: the higher level, every sign (one said again is open
    again), remembered from now."""
    if old is None or not old.recent(now):
        return new
    signs = tuple(dict.fromkeys((*old.signs, *new.signs)))
    cleared = tuple(sign for sign in old.cleared if sign not in new.signs)
    level = max(old.level, new.level)
    return Danger(level=level, signs=signs, cleared=cleared, held=old.held or new.held, at=now)


def cleared(danger: Danger, signs: tuple[str, ...]) -> Danger:
    """The danger once these signs are answered with a clear "no" (or taken back)."""
    return danger.model_copy(update={"cleared": tuple(dict.fromkeys((*danger.cleared, *signs)))})
