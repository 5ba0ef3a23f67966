"""Home-care tips and the warning signs to watch for, chosen from an assessment's likely causes. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.triage.assessment import Assessment
from bot.triage.findings import Level
from bot.triage.rules import RULES

MAX_TIPS = 4
MAX_WATCH = 4


@dataclass(frozen=True)
class Tip:
    key: str
    source: str


HOME_CARE = "REFERENCE.md Home care (from the seeds)"

TIPS: tuple[Tip, ...] = (
    Tip("care.rice", f"{HOME_CARE}: R.I.C.E. (seed 000)"),
    Tip("care.keep_moving", f"{HOME_CARE}: movement is medicine (seed 002)"),
    Tip("care.strengthen", f"{HOME_CARE}: strengthening 2-3 times a week (seed 002)"),
    Tip("care.micro_breaks", f"{HOME_CARE}: micro-breaks and seated leg kicks (seed 002)"),
    Tip("care.stretch_cramp", f"{HOME_CARE}: cramps (seed 000)"),
    Tip("care.gentle_stretch", f"{HOME_CARE}: stretch the calf or hamstring gently (seeds 000, 002)"),
    Tip("care.stay_active", "NHS sciatica pages: keep active (REFERENCE.md self_care nerve pain row)"),
    Tip("care.support", f"{HOME_CARE}: knee support, wraps or taping; a physiotherapist (seeds 001, 002)"),
    Tip("care.weight", f"{HOME_CARE}: losing 10% of body weight in knee osteoarthritis (seed 002)"),
    Tip("care.pain_relief", f"{HOME_CARE}: over-the-counter pain relief, not for everyone (seeds 001, 002)"),
    Tip("care.protect_until_seen", "Acute knee trauma pathways: protect the injured leg until it is examined"),
)

WATCH: tuple[Tip, ...] = (
    Tip("watch.breathing", "REFERENCE.md red flags: pulmonary embolism (NHS DVT page; seeds 000, 001)"),
    Tip("watch.clot", "REFERENCE.md red flags: one-sided calf swelling, warmth or redness (NICE NG158)"),
    Tip("watch.cold_foot", "REFERENCE.md red flags: cold, pale, numb or weak foot (RCEM Learning)"),
    Tip("watch.nerves", "REFERENCE.md red flags: cauda equina (NHS sciatica pages)"),
    Tip("watch.hot_knee", "REFERENCE.md red flags: hot swollen knee with fever (BSR/BOA guideline)"),
    Tip("watch.hard_calf", "REFERENCE.md red flags: compartment syndrome (RCEM Learning)"),
)

# Shown with the urgent clot message: the signs that turn "be seen today" into "call now".
EMERGENCY_SIGNS: tuple[str, ...] = ("watch.breathing",)
# Signs in watch_for() that mean "be seen today" (urgent), not "call the emergency number now".
# A check-in answered "no change" adds a nudge to see a clinician once this long has passed since the advice:
# at once for the levels that meant "be seen" (they should have been by now), after a week for home care (REFERENCE.md
# self_care: "see a clinician if no better in about 2 weeks"; a week without any change is halfway, so the nudge says
# to book if it is not better by then).
NUDGE_AFTER: Mapping[Level, timedelta] = {
    Level.emergency: timedelta(0),
    Level.urgent: timedelta(0),
    Level.soon: timedelta(0),
    Level.self_care: timedelta(days=7),
}

SAME_DAY_SIGNS: frozenset[str] = frozenset({"watch.clot"})
# Every message key this module can return, for the content check.
ALL_KEYS: tuple[str, ...] = tuple(tip.key for tip in TIPS + WATCH)

_INJURY = ("care.rice", "care.gentle_stretch", "care.keep_moving", "care.pain_relief")
_TIPS_BY_CAUSE: dict[str, tuple[str, ...]] = {
    "cramp": ("care.stretch_cramp", "care.keep_moving"),
    "calf_strain": _INJURY,
    "hamstring_strain": _INJURY,
    "popliteus_strain": ("care.rice", "care.keep_moving", "care.pain_relief"),
    "ligament_injury": ("care.rice", "care.support", "care.pain_relief"),
    "meniscus_tear": ("care.rice", "care.support", "care.pain_relief"),
    "bakers_cyst": ("care.rice", "care.support", "care.pain_relief"),
    "osteoarthritis": ("care.strengthen", "care.keep_moving", "care.weight", "care.pain_relief", "care.support"),
    "inflammatory_arthritis": ("care.rice", "care.pain_relief"),
    "bursitis": ("care.rice", "care.pain_relief"),
    "patellar_tendinopathy": ("care.strengthen", "care.support", "care.pain_relief"),
    "patellofemoral_pain": ("care.strengthen", "care.micro_breaks", "care.support", "care.pain_relief"),
    "lumbar_radiculopathy": ("care.stay_active", "care.micro_breaks", "care.pain_relief"),
}
# With no named cause the message says "a strain or overuse".
_DEFAULT_TIPS = ("care.rice", "care.keep_moving", "care.pain_relief")

_WATCH_BY_CAUSE: dict[str, tuple[str, ...]] = {
    "lumbar_radiculopathy": ("watch.nerves",),
    "cauda_equina": ("watch.nerves",),
    "septic_arthritis": ("watch.hot_knee",),
    "inflammatory_arthritis": ("watch.hot_knee",),
    "osteoarthritis": ("watch.hot_knee",),
    "bakers_cyst": ("watch.hot_knee",),
    "bursitis": ("watch.hot_knee",),
    "vascular": ("watch.cold_foot",),
    "fracture": ("watch.cold_foot", "watch.hard_calf"),
    "ligament_injury": ("watch.cold_foot", "watch.hard_calf"),
    "meniscus_tear": ("watch.hard_calf",),
    "calf_strain": ("watch.hard_calf",),
}

# Injuries that only need protecting until they are examined; any other urgent finding gets no home tips.
_PROTECT_RULES = frozenset(
    {
        "pop_rapid_swelling",
        "locked_knee",
        "ottawa_cannot_bear_weight",
        "ottawa_cannot_bend_90",
        "ottawa_age_55_injury",
        "severe_pain_injury",
    }
)
# A possible tumour gets no home-care tips: they would read as "this can wait".
_NIGHT_PAIN_RULES = frozenset({"night_pain", "night_pain_young", "night_pain_child"})
_LEVEL_OF = {rule.id: rule.level for rule in RULES}


def _first(keys: list[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))[:limit]


def care_tips(assessment: Assessment) -> tuple[str, ...]:
    """Message keys `care.<tip>`, at most MAX_TIPS, matched to the most likely cause."""
    level = assessment.level
    if level is Level.emergency:
        return ()
    if level is Level.urgent:
        urgent = {rule for rule in assessment.rules if _LEVEL_OF.get(rule, Level.self_care) >= Level.urgent}
        return ("care.protect_until_seen",) if urgent and urgent <= _PROTECT_RULES else ()
    if _NIGHT_PAIN_RULES.intersection(assessment.rules):
        return ()
    if not assessment.causes:
        return _DEFAULT_TIPS
    # Tips for the most likely cause only: a short message, and no ice pack for a cramp that has gone.
    for hit in assessment.causes:
        if hit.code in _TIPS_BY_CAUSE:
            return _TIPS_BY_CAUSE[hit.code][:MAX_TIPS]
    return ()


def watch_for(assessment: Assessment) -> tuple[str, ...]:
    """Message keys `watch.<sign>`: the signs that mean call the emergency number now."""
    keys = ["watch.breathing"]
    if assessment.level < Level.urgent:
        keys.append("watch.clot")
    keys += [key for hit in assessment.causes for key in _WATCH_BY_CAUSE.get(hit.code, ())]
    return _first(keys, MAX_WATCH)
