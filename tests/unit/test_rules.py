"""The rules table, its wording in every locale, "not sure" answers and the home-care advice."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content.loader import Content
from bot.triage import advice
from bot.triage.assessment import Assessment, CauseHit
from bot.triage.effects import MORE_NODE
from bot.triage.engine import Policy, advance, new_session
from bot.triage.events import ChoiceSelected, MessageReceived
from bot.triage.findings import BOOLEAN_FINDINGS, CAUSES, Findings, Level
from bot.triage.rules import RULES, assess, deciding_rules, reasons
from bot.triage.session import SessionStatus

LOCALES = Path(__file__).resolve().parents[2] / "locales"
LANGS = ("en", "es")


def _catalog(lang: str) -> dict[str, str]:
    with (LOCALES / lang / "triage.yaml").open(encoding="utf-8") as handle:
        data: dict[str, str] = yaml.safe_load(handle)
    return data


CATALOGS = {lang: _catalog(lang) for lang in LANGS}
RULE_BY_ID = {rule.id: rule for rule in RULES}

# The safety answers a full conversation establishes as "no"; each case below adds what the person said.
SCREENED: dict[str, Any] = dict.fromkeys(
    (
        "short_of_breath",
        "chest_pain",
        "coughing_blood",
        "fainting_or_collapse",
        "cold_pale_foot",
        "calf_swelling_one_side",
        "tense_calf_pain_out_of_proportion",
        "obvious_deformity",
        "redness_warmth",
        "fever",
        "feels_very_unwell",
        "pulsatile_lump",
        "saddle_numbness_or_bladder_bowel",
        "leg_weakness_or_foot_drop",
        "night_pain_weight_loss",
        "prior_clot",
        "cannot_bear_weight",
        "cannot_straighten",
    ),
    False,
)


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


# --- the table -------------------------------------------------------------------------------------------------------


def test_rule_ids_are_unique_slugs() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert all(rule_id.replace("_", "").isalnum() and rule_id.islower() for rule_id in ids)


def test_every_rule_cites_a_source() -> None:
    assert all(rule.source.strip() for rule in RULES)


def test_rules_are_listed_highest_level_first() -> None:
    ranks = [rule.level.rank for rule in RULES]
    assert ranks == sorted(ranks, reverse=True)


def test_every_alarm_rule_is_a_red_flag_and_names_a_cause() -> None:
    for rule in RULES:
        if rule.level >= Level.urgent:
            assert rule.red_flag and rule.causes, rule.id


@pytest.mark.parametrize("lang", LANGS)
def test_every_rule_has_a_reason_in_every_locale(lang: str) -> None:
    assert [rule.why for rule in RULES if rule.why not in CATALOGS[lang]] == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_cause_code_has_a_name_in_every_locale(lang: str) -> None:
    assert [code for code in CAUSES if f"cause.{code}" not in CATALOGS[lang]] == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_advice_key_has_text_in_every_locale(lang: str) -> None:
    keys = set(advice.ALL_KEYS) | set(advice.EMERGENCY_SIGNS)
    assert sorted(keys - set(CATALOGS[lang])) == []


def test_locales_have_the_same_keys_and_placeholders() -> None:
    en, es = CATALOGS["en"], CATALOGS["es"]
    assert set(en) == set(es)
    assert [key for key in en if _placeholders(en[key]) != _placeholders(es[key])] == []


def test_wording_is_short_and_english_is_plain_ascii() -> None:
    for lang, catalog in CATALOGS.items():
        for key, text in catalog.items():
            assert text.strip() and len(text) < 300, (lang, key)
    assert [key for key, text in CATALOGS["en"].items() if not text.isascii()] == []


def test_every_tip_cites_a_source() -> None:
    tips = advice.TIPS + advice.WATCH
    assert all(tip.source.strip() for tip in tips)
    assert all(tip.key.startswith(("care.", "watch.")) for tip in tips)


# --- assessments -----------------------------------------------------------------------------------------------------

RED_FLAGS = [
    # (description, what the person said, level, rule that must fire)
    ("breathless with no leg signs", {"short_of_breath": True}, Level.emergency, "pe_breathing"),
    ("chest pain", {"chest_pain": True}, Level.emergency, "pe_chest_pain"),
    ("coughing blood", {"coughing_blood": True}, Level.emergency, "pe_coughing_blood"),
    ("fainted", {"fainting_or_collapse": True}, Level.emergency, "fainting"),
    ("cold pale foot", {"cold_pale_foot": True}, Level.emergency, "limb_ischaemia"),
    (
        "hot knee with fever",
        {"swelling": True, "redness_warmth": True, "fever": True},
        Level.emergency,
        "septic_knee_fever",
    ),
    (
        "hot knee, very unwell",
        {"swelling": True, "redness_warmth": True, "feels_very_unwell": True},
        Level.emergency,
        "septic_knee_fever",
    ),
    ("saddle numbness", {"saddle_numbness_or_bladder_bowel": True}, Level.emergency, "cauda_equina"),
    (
        "nerve pain in both legs",
        {"radiating_burning_pain": True, "both_legs": True},
        Level.emergency,
        "nerve_signs_both_legs",
    ),
    (
        "rock-hard calf after injury",
        {"trauma": True, "tense_calf_pain_out_of_proportion": True},
        Level.emergency,
        "compartment",
    ),
    ("deformity", {"trauma": True, "obvious_deformity": True}, Level.emergency, "deformity"),
    ("one calf swollen", {"calf_swelling_one_side": True}, Level.urgent, "dvt_calf_signs"),
    (
        "calf swollen after a long flight",
        {"calf_swelling_one_side": True, "long_travel_over_4h": True},
        Level.urgent,
        "dvt_calf_risk",
    ),
    ("previous clot and a warm red calf", {"prior_clot": True, "redness_warmth": True}, Level.urgent, "dvt_prior_clot"),
    (
        "sudden calf swelling with a known cyst",
        {"known_bakers_cyst": True, "calf_swelling_one_side": True},
        Level.urgent,
        "ruptured_bakers_cyst",
    ),
    ("hot swollen knee, no fever", {"swelling": True, "redness_warmth": True}, Level.urgent, "hot_knee_no_fever"),
    ("warm red calf, no swelling", {"redness_warmth": True}, Level.urgent, "warm_red_leg"),
    ("pulsing lump, foot normal", {"lump_behind_knee": True, "pulsatile_lump": True}, Level.urgent, "pulsatile_lump"),
    (
        "cannot take 4 steps after injury",
        {"trauma": True, "cannot_bear_weight": True},
        Level.urgent,
        "ottawa_cannot_bear_weight",
    ),
    ("injury at 55", {"trauma": True, "age": 55, "duration_days": 1}, Level.urgent, "ottawa_age_55_injury"),
    ("locked knee", {"cannot_straighten": True}, Level.urgent, "locked_knee"),
    (
        "pop and swelling within hours",
        {"trauma": True, "pop_at_injury": True, "rapid_swelling_within_hours": True},
        Level.urgent,
        "pop_rapid_swelling",
    ),
    ("new foot drop", {"leg_weakness_or_foot_drop": True}, Level.urgent, "foot_drop"),
    ("night pain, adult", {"night_pain_weight_loss": True, "age": 40}, Level.soon, "night_pain"),
    ("night pain, young person", {"night_pain_weight_loss": True, "age": 20}, Level.soon, "night_pain_young"),
    ("night pain, age unknown", {"night_pain_weight_loss": True}, Level.soon, "night_pain_young"),
    ("night pain, child", {"night_pain_weight_loss": True, "age": 10}, Level.soon, "night_pain_child"),
    ("numb or weak foot", {"cold_pale_foot": True}, Level.emergency, "limb_ischaemia"),
    (
        "child with a fever who won't walk",
        {"age": 6, "fever": True, "cannot_bear_weight": True},
        Level.emergency,
        "child_fever_not_walking",
    ),
    (
        "child, very unwell, won't bear weight",
        {"age": 3, "feels_very_unwell": True, "cannot_bear_weight": True},
        Level.emergency,
        "child_fever_not_walking",
    ),
    ("child limping, no injury", {"age": 12, "trauma": False, "cannot_bear_weight": True}, Level.urgent, "child_limp"),
    (
        "tender calf after a caesarean",
        {"calf_pain_or_tenderness": True, "recent_surgery_or_immobilisation": True},
        Level.urgent,
        "dvt_calf_tender_risk",
    ),
    (
        "tender calf in pregnancy",
        {"calf_pain_or_tenderness": True, "hormone_therapy_or_pregnancy": True},
        Level.urgent,
        "dvt_calf_tender_risk",
    ),
    (
        "previous clot and a painful calf",
        {"calf_pain_or_tenderness": True, "prior_clot": True},
        Level.urgent,
        "dvt_prior_clot",
    ),
    ("cannot bend to 90 after injury", {"trauma": True, "cannot_bend_90": True}, Level.urgent, "ottawa_cannot_bend_90"),
    ("pain 8/10 after injury", {"trauma": True, "pain_score": 8}, Level.urgent, "severe_pain_injury"),
    ("pain 8/10, no injury", {"trauma": False, "pain_score": 8}, Level.soon, "severe_pain"),
    ("catching", {"locking": True}, Level.soon, "mechanical"),
    ("giving way", {"giving_way": True}, Level.soon, "giving_way"),
    ("a lump", {"lump_behind_knee": True}, Level.soon, "lump"),
    ("not better after home care", {"getting_worse_or_not_improving": True}, Level.soon, "not_improving"),
    (
        "nerve pain getting worse",
        {"radiating_burning_pain": True, "getting_worse_or_not_improving": True},
        Level.soon,
        "radicular_worsening",
    ),
    (
        "nerve pain settling",
        {"radiating_burning_pain": True, "getting_worse_or_not_improving": False},
        Level.self_care,
        "radicular_settling",
    ),
    ("short cramp", {"onset": "sudden", "trauma": False, "duration_days": 0.1}, Level.self_care, "cramp"),
]


@pytest.mark.parametrize(("description", "said", "level", "rule_id"), RED_FLAGS, ids=[c[0] for c in RED_FLAGS])
def test_red_flag_table(description: str, said: dict[str, Any], level: Level, rule_id: str) -> None:
    result = assess(Findings(**{**SCREENED, **said}))
    assert result.level is level, description
    assert rule_id in result.rules
    assert (rule_id in result.red_flags) is RULE_BY_ID[rule_id].red_flag
    rule = RULE_BY_ID[rule_id]
    assert [hit.code for hit in result.causes][:1] == list(rule.causes[:1])


def test_nothing_known_means_home_care_with_no_cause_named() -> None:
    assert assess(Findings()) == Assessment(level=Level.self_care)


def test_missing_findings_count_as_no() -> None:
    assert assess(Findings(calf_swelling_one_side=None)).level is Level.self_care


def test_previous_clot_with_knee_only_pain_is_not_urgent() -> None:
    knee_only = {**SCREENED, "prior_clot": True, "onset": "gradual", "trauma": False, "age": 45}
    assert assess(Findings(**knee_only)).level is Level.self_care
    assert assess(Findings(**{**knee_only, "calf_swelling_one_side": True})).level is Level.urgent


def test_ottawa_age_rule_needs_a_recent_injury_at_55_or_over() -> None:
    injured = {**SCREENED, "trauma": True, "duration_days": 2}
    assert assess(Findings(**injured, age=55)).level is Level.urgent
    assert assess(Findings(**injured, age=54)).level is Level.self_care
    assert assess(Findings(**{**injured, "age": 70, "duration_days": 30})).level is Level.self_care


def test_pop_without_quick_swelling_is_soon() -> None:
    assert assess(Findings(**SCREENED, trauma=True, pop_at_injury=True)).level is Level.soon


def test_causes_are_ranked_by_level_then_table_order_and_deduplicated() -> None:
    said = {"calf_swelling_one_side": True, "prior_clot": True, "short_of_breath": True}
    result = assess(Findings(**{**SCREENED, **said}))
    assert [hit.code for hit in result.causes] == ["pulmonary_embolism", "dvt"]
    assert result.causes[1] == CauseHit(code="dvt", why="why.dvt_prior_clot")
    assert result.rules == ("pe_breathing", "dvt_prior_clot", "dvt_calf_risk", "dvt_calf_signs")
    assert result.red_flags == result.rules


def test_an_alarm_result_never_names_a_home_care_guess() -> None:
    result = assess(Findings(onset="sudden", duration_days=0.2, calf_swelling_one_side=True))
    assert "cramp" in result.rules
    assert [hit.code for hit in result.causes] == ["dvt"]


def test_an_alarm_result_names_only_alarm_causes() -> None:
    result = assess(Findings(known_bakers_cyst=True, lump_behind_knee=True, calf_swelling_one_side=True))
    assert {"lump", "known_bakers_cyst"} <= set(result.rules)
    assert [hit.code for hit in result.causes] == ["ruptured_bakers_cyst", "dvt"]
    assert {hit.why for hit in result.causes} == {"why.ruptured_bakers_cyst"}


def test_night_pain_names_only_the_red_flag_cause() -> None:
    said = {"night_pain_weight_loss": True, "onset": "gradual", "trauma": False, "age": 15}
    result = assess(Findings(**{**SCREENED, **said}))
    assert "overuse" in result.rules
    assert result.causes == (CauseHit(code="tumour", why="why.night_pain_child"),)


def test_each_breathing_sign_gives_its_own_reason() -> None:
    result = assess(Findings(short_of_breath=True, chest_pain=True))
    assert result.rules == ("pe_breathing", "pe_chest_pain")
    assert result.causes == (CauseHit(code="pulmonary_embolism", why="why.pe_breathing"),)


def test_a_home_care_result_names_a_likely_cause() -> None:
    result = assess(Findings(**SCREENED, onset="sudden", trauma=False, duration_days=0.2))
    assert result.level is Level.self_care
    assert result.causes[0] == CauseHit(code="cramp", why="why.cramp")


# --- "not sure" ------------------------------------------------------------------------------------------------------


def test_unsure_breathing_alone_means_be_seen_today_not_an_ambulance() -> None:
    result = assess(Findings(**{**SCREENED, "short_of_breath": None}), frozenset({"short_of_breath"}))
    assert result.level is Level.urgent
    assert "pe_breathing" in result.red_flags
    assert result.causes[0].code == "pulmonary_embolism"


def test_unsure_calf_swelling_means_be_seen_today() -> None:
    result = assess(Findings(**{**SCREENED, "calf_swelling_one_side": None}), frozenset({"calf_swelling_one_side"}))
    assert result.level is Level.urgent
    assert "dvt_calf_signs" in result.rules


def test_unsure_does_not_lower_a_definite_emergency() -> None:
    assert assess(Findings(chest_pain=True), frozenset({"calf_swelling_one_side"})).level is Level.emergency
    assert assess(Findings(short_of_breath=True), frozenset({"short_of_breath"})).level is Level.emergency


def test_unsure_about_a_minor_sign_raises_only_to_that_sign() -> None:
    result = assess(Findings(**SCREENED), frozenset({"giving_way"}))
    assert result.level is Level.soon
    assert result.rules == ("giving_way",)


def test_unsure_keeps_the_definite_rules_too() -> None:
    said = {**SCREENED, "swelling": True, "redness_warmth": True, "fever": None}
    result = assess(Findings(**said), frozenset({"fever"}))
    assert result.level is Level.urgent
    assert {"hot_knee_no_fever", "septic_knee_fever"} <= set(result.rules)


def test_unsure_must_name_yes_no_findings() -> None:
    assert "age" not in BOOLEAN_FINDINGS
    with pytest.raises(ValueError, match="age"):
        assess(Findings(), frozenset({"age"}))


# --- advice ----------------------------------------------------------------------------------------------------------

EVERY_SINGLE_YES = [Findings(**{**SCREENED, name: True}) for name in BOOLEAN_FINDINGS]


def test_emergency_gets_no_home_care_tips() -> None:
    emergencies = [assess(f) for f in EVERY_SINGLE_YES if assess(f).level is Level.emergency]
    assert len(emergencies) >= 6
    assert all(advice.care_tips(result) == () for result in emergencies)


def test_urgent_gets_only_interim_tips() -> None:
    for findings in EVERY_SINGLE_YES:
        result = assess(findings)
        if result.level is Level.urgent:
            assert set(advice.care_tips(result)) <= {"care.protect_until_seen"}
    assert advice.care_tips(assess(Findings(calf_swelling_one_side=True))) == ()
    assert advice.care_tips(assess(Findings(trauma=True, cannot_bear_weight=True))) == ("care.protect_until_seen",)


def test_pain_relief_always_carries_its_caveat() -> None:
    words = {
        "en": ("not safe for everyone", "pharmacist", "kidney", "stomach", "heart", "blood thinners", "pregnant"),
        "es": (
            "no son seguros para todos",
            "farmacéutico",
            "riñón",
            "estómago",
            "corazón",
            "anticoagulantes",
            "embarazada",
        ),
    }
    for lang, catalog in CATALOGS.items():
        assert all(word in catalog["care.pain_relief"] for word in words[lang]), lang
        medicines = [key for key, text in catalog.items() if "ibuprofen" in text.lower()]
        assert medicines == ["care.pain_relief"], lang


def test_tips_match_the_cause_and_stay_few() -> None:
    cramp = assess(Findings(**SCREENED, onset="sudden", trauma=False, duration_days=0.2))
    assert [hit.code for hit in cramp.causes] == ["cramp", "calf_strain"]
    assert advice.care_tips(cramp) == ("care.stretch_cramp", "care.keep_moving")
    oa = Assessment(level=Level.self_care, causes=(CauseHit(code="osteoarthritis", why="why.osteoarthritis"),))
    assert {"care.strengthen", "care.weight"} <= set(advice.care_tips(oa))
    sciatica = Assessment(level=Level.soon, causes=(CauseHit(code="lumbar_radiculopathy", why="why.lump"),))
    assert advice.care_tips(sciatica)[0] == "care.stay_active"
    assert advice.care_tips(Assessment(level=Level.self_care)) == ("care.rice", "care.keep_moving", "care.pain_relief")
    everything = Assessment(level=Level.soon, causes=tuple(CauseHit(code=c, why="why.lump") for c in CAUSES))
    assert len(advice.care_tips(everything)) <= advice.MAX_TIPS


def test_watch_for_always_names_breathing_and_clot_signs_below_urgent() -> None:
    keys = {tip.key for tip in advice.WATCH}
    for findings in EVERY_SINGLE_YES:
        result = assess(findings)
        watch = advice.watch_for(result)
        assert watch[0] == "watch.breathing"
        assert ("watch.clot" in watch) is (result.level < Level.urgent)
        assert set(watch) <= keys and len(watch) <= advice.MAX_WATCH
    sciatica = assess(Findings(radiating_burning_pain=True))
    assert "watch.nerves" in advice.watch_for(sciatica)


def test_every_key_advice_returns_is_in_its_tables() -> None:
    tips = {tip.key for tip in advice.TIPS}
    watch = {tip.key for tip in advice.WATCH}
    for level in Level:
        for code in CAUSES:
            result = Assessment(level=level, causes=(CauseHit(code=code, why="why.lump"),))
            assert set(advice.care_tips(result)) <= tips
            assert set(advice.watch_for(result)) <= watch


# --- the rows added from REFERENCE.md: boundaries ---------------------------------------------------------------------


def _level(**said: Any) -> Level:
    return assess(Findings(**{**SCREENED, **said})).level


@pytest.mark.parametrize(("age", "level"), [(15, Level.emergency), (16, Level.urgent), (2, Level.emergency)])
def test_fever_and_not_walking_is_an_emergency_under_16(age: int, level: Level) -> None:
    assert _level(age=age, trauma=False, fever=True, cannot_bear_weight=True) is level
    assert _level(age=age, trauma=False, fever=True, cannot_bear_weight=False) is Level.self_care


@pytest.mark.parametrize(
    ("age", "rule_id"), [(15, "child_limp"), (9, "child_limp"), (16, "cannot_bear_weight_no_injury")]
)
def test_a_limp_without_injury_is_urgent_and_named_for_a_child(age: int, rule_id: str) -> None:
    result = assess(
        Findings(**{**SCREENED, "age": age, "trauma": False, "onset": "gradual", "cannot_bear_weight": True})
    )
    assert result.level is Level.urgent
    assert [rule.id for rule in deciding_rules(result)] == [rule_id]


@pytest.mark.parametrize(
    ("age", "rule_id", "action"),
    [
        (10, "night_pain_child", "outcome.soon.within_48h"),
        (15, "night_pain_child", "outcome.soon.within_48h"),
        (16, "night_pain_young", "outcome.soon.within_48h"),
        (24, "night_pain_young", "outcome.soon.within_48h"),
        (None, "night_pain_young", "outcome.soon.within_48h"),
        (25, "night_pain", None),
    ],
)
def test_night_pain_is_within_48_hours_up_to_24(age: int | None, rule_id: str, action: str | None) -> None:
    result = assess(Findings(**{**SCREENED, "age": age, "night_pain_weight_loss": True}))
    assert result.level is Level.soon
    assert [(rule.id, rule.action) for rule in deciding_rules(result)] == [(rule_id, action)]


@pytest.mark.parametrize(
    ("pain", "trauma", "level"),
    [(7, True, Level.self_care), (8, True, Level.urgent), (10, True, Level.urgent), (7, False, Level.self_care),
     (8, False, Level.soon), (10, False, Level.soon)],
)  # fmt: skip
def test_a_pain_score_of_8_or_more_counts(pain: int, trauma: bool, level: Level) -> None:
    assert _level(age=30, onset="sudden", duration_days=1, trauma=trauma, pain_score=pain) is level


def test_severe_pain_never_lowers_a_red_flag() -> None:
    assert _level(pain_score=9, chest_pain=True) is Level.emergency
    assert _level(pain_score=9, calf_swelling_one_side=True) is Level.urgent


def test_cannot_bend_to_90_is_urgent_after_an_injury_only() -> None:
    assert _level(age=30, trauma=True, duration_days=1, cannot_bend_90=True) is Level.urgent
    assert _level(age=30, trauma=True, duration_days=1, cannot_bend_90=False) is Level.self_care
    assert _level(age=30, trauma=False, cannot_bend_90=True) is Level.self_care  # Ottawa is a rule for injuries


def test_a_tender_calf_is_urgent_with_a_clot_risk_factor() -> None:
    risks = ("recent_surgery_or_immobilisation", "long_travel_over_4h", "cancer", "hormone_therapy_or_pregnancy")
    for risk in risks:
        assert _level(calf_pain_or_tenderness=True, **{risk: True}) is Level.urgent, risk
    assert _level(calf_pain_or_tenderness=True, prior_clot=True) is Level.urgent
    # Alone it is a Wells point, not "DVT likely"; the calf question and the check-ins watch for more.
    assert _level(calf_pain_or_tenderness=True) is Level.self_care


def test_settling_sciatica_is_told_4_to_6_weeks() -> None:
    result = assess(Findings(**SCREENED, radiating_burning_pain=True, getting_worse_or_not_improving=False))
    assert result.level is Level.self_care
    assert deciding_rules(result)[0].detail == "outcome.self_care.detail_nerve"
    for lang, weeks in (("en", "4 to 6 weeks"), ("es", "4 a 6 semanas")):
        core = yaml.safe_load((LOCALES / lang / "core.yaml").read_text(encoding="utf-8"))
        assert weeks in core["outcome.self_care.detail_nerve"]


def test_the_reason_comes_from_the_rule_that_set_the_level() -> None:
    result = assess(Findings(**SCREENED, onset="gradual", trauma=False, age=40, getting_worse_or_not_improving=True))
    assert {"not_improving", "overuse"} <= set(result.rules)
    assert [rule.id for rule in deciding_rules(result)] == ["not_improving"]


def test_every_rule_override_names_its_own_level() -> None:
    for rule in RULES:
        for key in (rule.action, rule.detail):
            assert key is None or key.startswith(f"outcome.{rule.level.value}."), rule.id


# --- what the person reads: the outcome, with the real flow and catalogs ----------------------------------------------

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def outcome(content: Content, answers: dict[str, str], locale: str = "en") -> tuple[Assessment, str]:
    """Answers the intake as `answers` say ("none" or "no" where they say nothing) and returns the outcome's text,
    with its "Why?" (the reason and the possible causes, given on request below emergency) after it."""
    flow, policy = content.intake, Policy(countries=content.countries)
    session = new_session(flow, NOW, locale, "US").model_copy(update={"disclaimer_shown": True})
    turn = None
    while session.status is SessionStatus.active and session.node is not None:
        node = flow.nodes[session.node]
        ids = [c.id for c in node.choices]
        value = answers.get(session.node) or next(i for i in ("none", "no", "normal") if i in ids)
        event = ChoiceSelected(session.node, value) if ids else MessageReceived(value)
        turn = advance(flow, session, event, NOW, policy=policy, language=content.language)
        session = turn.session
    assert turn is not None and session.assessment is not None
    (reply,) = [r for r in turn.replies if r.kind == "outcome"]
    parts = list(reply.parts)
    if any(option.id == "why" for option in reply.more):
        why = advance(flow, session, ChoiceSelected(MORE_NODE, "why"), NOW, policy=policy, language=content.language)
        parts += [p for r in why.replies for p in r.parts]
    return session.assessment, "\n".join(content.catalog.render(p, locale) for p in parts)


ADULT = {"age": "40", "start_how": "gradual", "duration": "2", "pain": "3"}


def test_the_outcome_gives_the_reason_that_set_the_level_not_a_guess_below_it(content: Content) -> None:
    result, text = outcome(content, {**ADULT, "duration": "7", "course": "same"})
    assert result.level is Level.soon and "overuse" in result.rules
    assert "This is because it is getting worse or not getting better." in text
    assert "came on slowly" not in text


def test_a_childs_night_pain_says_48_hours_and_your_child(content: Content) -> None:
    child = {**ADULT, "age": "10", "other_signs": "night"}
    result, text = outcome(content, child)
    assert result.level is Level.soon
    assert text.startswith("Your child needs to see a doctor within the next 48 hours")
    assert "your child has pain at night" in text and "next few days" not in text
    _, texto = outcome(content, child, "es")
    assert texto.startswith("Su hijo o hija necesita ver a un médico en las próximas 48 horas")


def test_an_adults_night_pain_keeps_the_next_few_days(content: Content) -> None:
    result, text = outcome(content, {**ADULT, "age": "60", "other_signs": "night"})
    assert result.level is Level.soon and "in the next few days" in text


def test_a_child_with_a_fever_who_wont_walk_is_told_to_call_now(content: Content) -> None:
    result, text = outcome(content, {**ADULT, "age": "7", "child_walk": "fever"})
    assert result.level is Level.emergency and text.startswith("Call 911 now.")
    assert "your child has a fever" in text


def test_a_very_unwell_child_who_wont_walk_is_told_to_call_now(content: Content) -> None:
    result, _ = outcome(content, {**ADULT, "age": "2", "child_walk": "unwell"})
    assert result.level is Level.emergency and "child_fever_not_walking" in result.rules


def test_at_16_not_bearing_weight_is_asked_among_the_knee_signs_and_seen_today(content: Content) -> None:
    result, text = outcome(content, {**ADULT, "age": "16", "mechanical": "no_weight"})
    assert result.level is Level.urgent and "you cannot put weight on the leg" in text


def test_a_limping_child_without_injury_is_seen_today(content: Content) -> None:
    result, text = outcome(content, {**ADULT, "age": "12", "child_walk": "limp"})
    assert result.level is Level.urgent and "your child is limping" in text
    result, _ = outcome(content, {**ADULT, "age": "12", "child_walk": "normal"})
    assert result.level is Level.self_care


def test_the_ottawa_bend_question_follows_an_injury(content: Content) -> None:
    injured = {**ADULT, "start_how": "injury", "walk": "yes", "bend": "no"}
    result, text = outcome(content, injured)
    assert result.level is Level.urgent and "cannot bend your knee to a right angle" in text
    result, _ = outcome(content, {**injured, "bend": "yes"})
    assert result.level is Level.self_care


def test_a_tender_calf_after_a_caesarean_is_a_clot_sign(content: Content) -> None:
    result, text = outcome(content, {**ADULT, "age": "31", "calf": "tender", "clot_risk": "hormones"})
    assert result.level is Level.urgent and result.causes[0].code == "dvt"
    assert "one calf hurts or is tender and you have a higher risk of clots" in text


def test_the_pain_score_is_used(content: Content) -> None:
    assert outcome(content, {**ADULT, "pain": "10"})[0].level is Level.soon
    assert outcome(content, {**ADULT, "start_how": "injury", "walk": "yes", "bend": "yes", "pain": "8"})[0].level is (
        Level.urgent
    )


def test_settling_sciatica_outcome_says_4_to_6_weeks(content: Content) -> None:
    said = {**ADULT, "other_signs": "nerve", "duration": "8", "course": "better"}
    result, text = outcome(content, said)
    assert result.level is Level.self_care
    assert "4 to 6 weeks" in text and "about 2 weeks" not in text


def test_a_numb_or_weak_foot_is_among_the_emergency_signs(content: Content) -> None:
    for lang, words in (("en", ("numb", "weak")), ("es", ("adormecido", "débil"))):
        label = content.catalog.raw("intake.emergency_signs.foot", lang)
        assert all(word in label for word in words)
        assert all(word in CATALOGS[lang]["why.limb_ischaemia"] for word in words)
    assert "24" in content.catalog.raw("intake.emergency_signs.prompt", "en")
    assert "24" in content.catalog.raw("intake.emergency_signs.prompt", "es")
    result, text = outcome(content, {"emergency_signs": "foot"})
    assert result.level is Level.emergency and "numb or weak" in text


def test_a_rule_that_adds_no_new_cause_adds_no_reason() -> None:
    said = {**SCREENED, "prior_clot": True, "calf_swelling_one_side": True, "calf_pain_or_tenderness": True}
    result = assess(Findings(**said))
    assert [rule.id for rule in deciding_rules(result)][:2] == ["dvt_prior_clot", "dvt_calf_risk"]
    assert reasons(result) == ("why.dvt_prior_clot",)
    slow = assess(Findings(**SCREENED, age=40, getting_worse_or_not_improving=True, pain_score=9))
    assert reasons(slow) == ("why.severe_pain", "why.not_improving")  # no cause of their own: each is a reason
