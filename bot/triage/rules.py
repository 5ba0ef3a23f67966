"""The triage rules table and assess(): findings in, level and ranked likely causes out. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.triage.assessment import Assessment, CauseHit
from bot.triage.findings import BOOLEAN_FINDINGS, Cause, Findings, Level

__all__ = ["RULES", "Assessment", "CauseHit", "Rule", "assess", "deciding_rules", "reasons"]

E, U, S, C = Level.emergency, Level.urgent, Level.soon, Level.self_care


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    when: Callable[[Findings], bool]
    causes: tuple[Cause, ...]
    source: str
    red_flag: bool = False
    # Message keys that replace the level's own action or detail line when this rule sets the level
    # ("within 48 hours" instead of "in the next few days"; "4 to 6 weeks" instead of "about 2 weeks").
    action: str | None = None
    detail: str | None = None

    @property
    def why(self) -> str:
        return f"why.{self.id}"


def yes(value: bool | None) -> bool:
    """A missing finding (None) counts as "no"."""
    return value is True


def no(value: bool | None) -> bool:
    return value is not True


def injured(f: Findings) -> bool:
    return yes(f.trauma) or yes(f.pop_at_injury)


def aged(f: Findings, years: int) -> bool:
    return f.age is not None and f.age >= years


CHILD_UNDER = 16  # REFERENCE.md: "a child (under 16)"; NICE NG12: children are from birth to 15 years
YOUNG_UNDER = 25  # NICE NG12: young people are 16 to 24 years old
SEVERE_PAIN = 8  # REFERENCE.md: severe pain is 8/10 or more


def child(f: Findings) -> bool:
    return f.age is not None and f.age < CHILD_UNDER


def young_or_unknown(f: Findings) -> bool:
    """16 to 24, or an age nobody gave: the 48-hour wording is the safer reading when the age is unknown."""
    return f.age is None or CHILD_UNDER <= f.age < YOUNG_UNDER


def severe(f: Findings) -> bool:
    return f.pain_score is not None and f.pain_score >= SEVERE_PAIN


def within_days(f: Findings, days: float) -> bool:
    """Unknown duration counts as recent: the safer reading for an injury."""
    return f.duration_days is None or f.duration_days <= days


def under_a_day(f: Findings) -> bool:
    return f.duration_days is None or f.duration_days < 1


def hot(f: Findings) -> bool:
    return yes(f.fever) or yes(f.feels_very_unwell)


def calf_signs(f: Findings) -> bool:
    return (
        yes(f.calf_swelling_one_side)
        or yes(f.redness_warmth)
        or yes(f.tense_calf_pain_out_of_proportion)
        or yes(f.calf_pain_or_tenderness)
    )


def clot_risk(f: Findings) -> bool:
    return (
        yes(f.prior_clot)
        or yes(f.recent_surgery_or_immobilisation)
        or yes(f.long_travel_over_4h)
        or yes(f.cancer)
        or yes(f.hormone_therapy_or_pregnancy)
    )


def arthritic(f: Findings) -> bool:
    """Known osteoarthritis, or old enough that it is the usual cause of a slow ache."""
    return yes(f.known_osteoarthritis) or aged(f, 50)


def slow_ache(f: Findings) -> bool:
    """Came on gradually without injury or nerve pain: the background for the overuse and arthritis guesses."""
    return f.onset == "gradual" and not injured(f) and no(f.radiating_burning_pain)


PE = "NHS 'Deep vein thrombosis'; seeds 000, 001 (REFERENCE.md red flags)"
ISCHAEMIA = "RCEM Learning; ESVS 2020 acute limb ischaemia guideline (REFERENCE.md red flags)"
HOT_JOINT = "BSR/BHPR/BOA guideline on the acutely hot swollen joint (REFERENCE.md red flags)"
SPINE = "NHS sciatica pages; GIRFT suspected cauda equina pathway (REFERENCE.md red flags)"
COMPARTMENT = "RCEM Learning: compartment syndrome (REFERENCE.md red flags)"
TRAUMA = "Acute knee trauma pathways (REFERENCE.md red flags)"
DVT = "NICE NG158 (Wells score, scan within 4 h); seeds 000, 001 (REFERENCE.md red flags)"
PRIOR_CLOT = "NICE NG158 (Wells: previous DVT +1); seed 001 (REFERENCE.md red flags)"
RUPTURE = "Case reports on ruptured Baker's cyst mimicking DVT; NICE NG158 (REFERENCE.md red flags)"
ANEURYSM = "Vascular guidance on popliteal aneurysm (REFERENCE.md red flags)"
OTTAWA = "Ottawa knee rule, Stiell et al. 1995 (REFERENCE.md red flags)"
INTERNAL = "Knee pathways; seeds 000, 002 (REFERENCE.md red flags: locked knee, pop with swelling)"
MOTOR = "Lumbar red-flag pathways; NICE CKS sciatica; seed 003 (REFERENCE.md red flags)"
TUMOUR = "NICE NG12; seed 001 (REFERENCE.md red flags)"
MECHANICAL = "Seed 002 'When to see a doctor'; seed 000 (REFERENCE.md: catching, giving way, swelling, lump)"
RADICULAR = "Seeds 003, 004 (REFERENCE.md: burning or shooting pain from the back or buttock)"
SETTLING = "NHS sciatica pages: usually settles in 4-6 weeks (REFERENCE.md)"
CRAMP = "Seeds 000, 001; NHS leg cramps (REFERENCE.md: short cramp, calves equal)"
STRAIN = "Seeds 000, 002: overworked or strained muscles heal with home care (REFERENCE.md Home care)"
OA = "NICE NG226 osteoarthritis; seed 002 (REFERENCE.md Home care)"
PFP = "Seed 002: runner's knee, taping (REFERENCE.md Home care)"
CYST = "NHS Baker's cyst page; seed 001"
CALF_TENDER = (
    "NICE NG158 (Wells: localised tenderness along the deep veins +1) (REFERENCE.md: calf pain or tenderness on one "
    "side with a risk factor)"
)
CHILD_FEVER = (
    "NICE NG143 fever in under 5s (non-weight-bearing limb: red); BSR/BOA hot joint guideline (REFERENCE.md: a child "
    "with a fever who won't walk or bear weight)"
)
CHILD_LIMP = (
    "NICE CKS 'Acute childhood limp'; BSCOS guidance on slipped upper femoral epiphysis (REFERENCE.md: a child or "
    "teenager with knee or thigh pain and a limp, without a clear injury)"
)
TUMOUR_YOUNG = (
    "NICE NG12 sarcoma: very urgent (within 48 hours) X-ray for unexplained bone pain in children and young people, "
    "from birth to 24 years (REFERENCE.md: night pain or weight loss in a child or young person)"
)
SEVERE_INJURY = "Acute knee trauma pathways (REFERENCE.md: severe pain, 8/10 or more, after an injury)"
SEVERE = "Clinical consensus (REFERENCE.md: severe pain, 8/10 or more, without an injury or red flag, is at least soon)"

WITHIN_48H = "outcome.soon.within_48h"

# Highest level first; within a level, the more specific rule first (its `why` is the one the person reads).
RULES: tuple[Rule, ...] = (
    # emergency: call the emergency number now
    Rule("pe_breathing", E, lambda f: yes(f.short_of_breath), ("pulmonary_embolism",), PE, red_flag=True),
    Rule("pe_chest_pain", E, lambda f: yes(f.chest_pain), ("pulmonary_embolism",), PE, red_flag=True),
    Rule("pe_coughing_blood", E, lambda f: yes(f.coughing_blood), ("pulmonary_embolism",), PE, red_flag=True),
    Rule("fainting", E, lambda f: yes(f.fainting_or_collapse), ("pulmonary_embolism",), PE, red_flag=True),
    Rule("limb_ischaemia", E, lambda f: yes(f.cold_pale_foot), ("vascular",), ISCHAEMIA, red_flag=True),
    Rule(
        "septic_knee_fever",
        E,
        lambda f: yes(f.redness_warmth) and hot(f),
        ("septic_arthritis", "inflammatory_arthritis"),
        HOT_JOINT,
        red_flag=True,
    ),
    Rule(
        "child_fever_not_walking",
        E,
        lambda f: child(f) and hot(f) and yes(f.cannot_bear_weight),
        ("septic_arthritis",),
        CHILD_FEVER,
        red_flag=True,
    ),
    Rule(
        "cauda_equina",
        E,
        lambda f: yes(f.saddle_numbness_or_bladder_bowel),
        ("cauda_equina", "lumbar_radiculopathy"),
        SPINE,
        red_flag=True,
    ),
    Rule(
        "nerve_signs_both_legs",
        E,
        lambda f: yes(f.both_legs) and (yes(f.radiating_burning_pain) or yes(f.leg_weakness_or_foot_drop)),
        ("cauda_equina", "lumbar_radiculopathy"),
        SPINE,
        red_flag=True,
    ),
    Rule(
        "compartment",
        E,
        lambda f: yes(f.tense_calf_pain_out_of_proportion),
        ("compartment_syndrome", "dvt"),
        COMPARTMENT,
        red_flag=True,
    ),
    Rule("deformity", E, lambda f: yes(f.obvious_deformity), ("fracture", "ligament_injury"), TRAUMA, red_flag=True),
    # urgent: be seen today, within hours
    Rule("dvt_prior_clot", U, lambda f: yes(f.prior_clot) and calf_signs(f), ("dvt",), PRIOR_CLOT, red_flag=True),
    Rule(
        "ruptured_bakers_cyst",
        U,
        lambda f: yes(f.calf_swelling_one_side) and (yes(f.known_bakers_cyst) or yes(f.lump_behind_knee)),
        ("ruptured_bakers_cyst", "dvt"),
        RUPTURE,
        red_flag=True,
    ),
    Rule("dvt_calf_risk", U, lambda f: yes(f.calf_swelling_one_side) and clot_risk(f), ("dvt",), DVT, red_flag=True),
    Rule(
        "dvt_calf_tender_risk",
        U,
        lambda f: yes(f.calf_pain_or_tenderness) and clot_risk(f),
        ("dvt",),
        CALF_TENDER,
        red_flag=True,
    ),
    Rule("dvt_calf_signs", U, lambda f: yes(f.calf_swelling_one_side), ("dvt",), DVT, red_flag=True),
    Rule(
        "hot_knee_no_fever",
        U,
        lambda f: yes(f.redness_warmth) and yes(f.swelling) and not hot(f),
        ("septic_arthritis", "inflammatory_arthritis"),
        HOT_JOINT,
        red_flag=True,
    ),
    Rule(
        "swollen_knee_fever",
        U,
        lambda f: yes(f.swelling) and hot(f) and no(f.redness_warmth),
        ("septic_arthritis", "inflammatory_arthritis"),
        HOT_JOINT,
        red_flag=True,
    ),
    Rule(
        "warm_red_leg",
        U,
        lambda f: yes(f.redness_warmth) and no(f.swelling) and not hot(f),
        ("dvt",),
        DVT,
        red_flag=True,
    ),
    Rule("pulsatile_lump", U, lambda f: yes(f.pulsatile_lump), ("vascular",), ANEURYSM, red_flag=True),
    Rule(
        "pop_rapid_swelling",
        U,
        lambda f: yes(f.rapid_swelling_within_hours) and injured(f),
        ("ligament_injury", "meniscus_tear", "fracture"),
        INTERNAL,
        red_flag=True,
    ),
    Rule(
        "rapid_swelling_no_injury",
        U,
        lambda f: yes(f.rapid_swelling_within_hours) and not injured(f),
        ("inflammatory_arthritis", "septic_arthritis"),
        HOT_JOINT,
        red_flag=True,
    ),
    Rule(
        "locked_knee",
        U,
        lambda f: yes(f.cannot_straighten),
        ("meniscus_tear", "ligament_injury"),
        INTERNAL,
        red_flag=True,
    ),
    Rule(
        "ottawa_cannot_bear_weight",
        U,
        lambda f: yes(f.cannot_bear_weight) and injured(f),
        ("fracture", "ligament_injury", "meniscus_tear"),
        OTTAWA,
        red_flag=True,
    ),
    Rule(
        "ottawa_cannot_bend_90",
        U,
        lambda f: yes(f.cannot_bend_90) and injured(f),
        ("fracture", "ligament_injury", "meniscus_tear"),
        OTTAWA,
        red_flag=True,
    ),
    Rule(
        "ottawa_age_55_injury",
        U,
        lambda f: injured(f) and aged(f, 55) and within_days(f, 7),
        ("fracture", "ligament_injury", "meniscus_tear"),
        OTTAWA,
        red_flag=True,
    ),
    Rule(
        "severe_pain_injury",
        U,
        lambda f: severe(f) and injured(f),
        ("fracture", "ligament_injury", "meniscus_tear"),
        SEVERE_INJURY,
        red_flag=True,
    ),
    # A limp without an injury: in a child, the hip (a slipped upper femoral epiphysis) until shown otherwise.
    Rule(
        "child_limp",
        U,
        lambda f: child(f) and yes(f.cannot_bear_weight) and not injured(f),
        ("fracture", "septic_arthritis"),  # a slipped epiphysis is a fracture through the growth plate
        CHILD_LIMP,
        red_flag=True,
    ),
    Rule(
        "cannot_bear_weight_no_injury",
        U,
        lambda f: yes(f.cannot_bear_weight) and not injured(f) and not child(f),
        ("meniscus_tear", "inflammatory_arthritis", "fracture"),
        f"{HOT_JOINT}; {OTTAWA}",
        red_flag=True,
    ),
    Rule("foot_drop", U, lambda f: yes(f.leg_weakness_or_foot_drop), ("lumbar_radiculopathy",), MOTOR, red_flag=True),
    # soon: doctor or physiotherapist in the next few days
    # Night pain or weight loss: one rule per age band, so one reason is given, in the right words.
    Rule(
        "night_pain_child",
        S,
        lambda f: yes(f.night_pain_weight_loss) and child(f),
        ("tumour",),
        TUMOUR_YOUNG,
        red_flag=True,
        action=WITHIN_48H,
    ),
    Rule(
        "night_pain_young",
        S,
        lambda f: yes(f.night_pain_weight_loss) and young_or_unknown(f),
        ("tumour",),
        TUMOUR_YOUNG,
        red_flag=True,
        action=WITHIN_48H,
    ),
    Rule(
        "night_pain",
        S,
        lambda f: yes(f.night_pain_weight_loss) and aged(f, YOUNG_UNDER),
        ("tumour",),
        TUMOUR,
        red_flag=True,
    ),
    Rule("pop_injury", S, lambda f: yes(f.pop_at_injury), ("ligament_injury", "meniscus_tear"), MECHANICAL),
    Rule("giving_way", S, lambda f: yes(f.giving_way), ("ligament_injury", "meniscus_tear"), MECHANICAL),
    Rule("mechanical", S, lambda f: yes(f.locking), ("meniscus_tear",), MECHANICAL),
    Rule(
        "swelling_after_injury",
        S,
        lambda f: yes(f.swelling) and injured(f),
        ("meniscus_tear", "ligament_injury"),
        MECHANICAL,
    ),
    Rule(
        "inflamed_joints",
        S,
        lambda f: yes(f.other_joints_affected) and (yes(f.swelling) or yes(f.redness_warmth)),
        ("inflammatory_arthritis",),
        MECHANICAL,
    ),
    Rule(
        "knee_swelling_arthritis",
        S,
        lambda f: yes(f.swelling) and not injured(f) and arthritic(f),
        ("osteoarthritis", "bakers_cyst", "inflammatory_arthritis"),
        MECHANICAL,
    ),
    Rule(
        "knee_swelling",
        S,
        lambda f: yes(f.swelling) and not injured(f) and not arthritic(f),
        ("inflammatory_arthritis", "bakers_cyst"),
        MECHANICAL,
    ),
    Rule("lump", S, lambda f: yes(f.lump_behind_knee), ("bakers_cyst",), MECHANICAL),
    Rule(
        "radicular_worsening",
        S,
        lambda f: yes(f.radiating_burning_pain) and yes(f.getting_worse_or_not_improving),
        ("lumbar_radiculopathy",),
        RADICULAR,
    ),
    Rule("severe_pain", S, severe, (), SEVERE),
    Rule("not_improving", S, lambda f: yes(f.getting_worse_or_not_improving), (), MECHANICAL),
    # self_care: cause-only rules, so a home-care answer still names a likely cause
    Rule(
        "radicular_settling",
        C,
        lambda f: yes(f.radiating_burning_pain) and no(f.getting_worse_or_not_improving),
        ("lumbar_radiculopathy",),
        SETTLING,
        detail="outcome.self_care.detail_nerve",
    ),
    Rule("known_bakers_cyst", C, lambda f: yes(f.known_bakers_cyst), ("bakers_cyst",), CYST),
    Rule("known_osteoarthritis", C, lambda f: yes(f.known_osteoarthritis), ("osteoarthritis",), OA),
    Rule(
        "back_referred",
        C,
        lambda f: (yes(f.back_pain) or yes(f.worse_sitting_coughing)) and no(f.radiating_burning_pain),
        ("lumbar_radiculopathy",),
        RADICULAR,
    ),
    Rule(
        "cramp", C, lambda f: f.onset == "sudden" and not injured(f) and under_a_day(f), ("cramp", "calf_strain"), CRAMP
    ),
    Rule(
        "calf_strain",
        C,
        lambda f: f.onset == "sudden" and not injured(f) and not under_a_day(f),
        ("calf_strain", "hamstring_strain", "cramp"),
        STRAIN,
    ),
    Rule("hamstring_strain", C, lambda f: injured(f), ("hamstring_strain", "calf_strain", "popliteus_strain"), STRAIN),
    Rule(
        "patellofemoral",
        C,
        lambda f: slow_ache(f) and yes(f.both_legs) and no(f.swelling) and not arthritic(f),
        ("patellofemoral_pain", "patellar_tendinopathy"),
        PFP,
    ),
    Rule(
        "osteoarthritis",
        C,
        lambda f: slow_ache(f) and aged(f, 50) and no(f.known_osteoarthritis),
        ("osteoarthritis", "bakers_cyst"),
        OA,
    ),
    Rule(
        "overuse",
        C,
        lambda f: slow_ache(f) and no(f.both_legs) and no(f.swelling) and not arthritic(f),
        ("hamstring_strain", "popliteus_strain"),
        STRAIN,
    ),
)


_TABLE_ORDER = {rule.id: i for i, rule in enumerate(RULES)}  # sorts the few fired rules, not a test of all of them
RULE_BY_ID = {rule.id: rule for rule in RULES}


def _fired(findings: Findings) -> frozenset[Rule]:
    return frozenset(rule for rule in RULES if rule.when(findings))


def _level(fired: Iterable[Rule]) -> Level:
    return max((rule.level for rule in fired), default=Level.self_care)


def _assessment(level: Level, fired: frozenset[Rule]) -> Assessment:
    in_table_order = sorted(fired, key=lambda rule: _TABLE_ORDER[rule.id])
    ordered = sorted(in_table_order, key=lambda rule: -rule.level.rank)
    # A red flag names only red-flag causes: "a cramp" must not sit beside a possible clot or tumour.
    flagged = any(rule.red_flag for rule in fired)
    hits: dict[Cause, CauseHit] = {}
    for rule in ordered:
        if flagged and not rule.red_flag:
            continue
        for code in rule.causes:
            hits.setdefault(code, CauseHit(code=code, why=rule.why))
    return Assessment(
        level=level,
        causes=tuple(hits.values()),
        red_flags=tuple(rule.id for rule in in_table_order if rule.red_flag),
        rules=tuple(rule.id for rule in in_table_order),
    )


def deciding_rules(assessment: Assessment) -> tuple[Rule, ...]:
    """The fired rules at the assessment's level, most specific first: the ones that set the level, so the ones
    whose reasons (and wording) the person reads."""
    fired = (RULE_BY_ID[rule_id] for rule_id in assessment.rules)
    return tuple(rule for rule in fired if rule.level is assessment.level)


def reasons(assessment: Assessment) -> tuple[str, ...]:
    """The `why` keys of the rules that set the level; a rule that adds no new likely cause adds no reason (the more
    specific rule before it already told that story: "a clot before" needs no "one calf is swollen" after it)."""
    told: set[str] = set()
    whys: list[str] = []
    for rule in deciding_rules(assessment):
        if rule.causes and told.issuperset(rule.causes):
            continue
        told.update(rule.causes)
        whys.append(rule.why)
    return tuple(dict.fromkeys(whys))


def assess(findings: Findings, unsure: frozenset[str] = frozenset()) -> Assessment:
    """Fire every rule; an answer of "not sure" to an alarm sign means at least "be seen today", never an ambulance."""
    unknown = unsure - set(BOOLEAN_FINDINGS)
    if unknown:
        raise ValueError(f"not yes/no findings: {sorted(unknown)}")
    # A definite "yes" elsewhere in the conversation outranks a "not sure".
    absent = {name: False for name in unsure if getattr(findings, name) is not True}
    definite = _fired(findings.model_copy(update=absent))
    if not unsure:
        return _assessment(_level(definite), definite)
    maybe = _fired(findings.model_copy(update=dict.fromkeys(unsure, True)))
    level = max(_level(definite), min(_level(maybe), Level.urgent))
    return _assessment(level, definite | maybe)
