"""Outcomes that fit: on SMS at most 2 messages and 6 segments with the call-now line in the first; the details
(home-care tips, why) on request (TIPS, or a button on Telegram); worded for "your child" where the age says so."""

from __future__ import annotations

import random
from typing import Any

import pytest
from clinical import VIGNETTES
from talk import Talk, keys

from bot.channels.render import MAX_SMS_SEGMENTS, render_sms, render_telegram
from bot.channels.segments import segments, to_gsm
from bot.content.loader import Content
from bot.triage import outcome, rules
from bot.triage.effects import MORE_NODE, Param, SendReply, Text
from bot.triage.emergency import UNKNOWN_NUMBER
from bot.triage.engine import Escalation, Policy, closing
from bot.triage.events import ChoiceSelected
from bot.triage.findings import BOOLEAN_FINDINGS, Findings, Level
from tests.conftest import FixedClock

MOST_MESSAGES, MOST_SEGMENTS = 2, 6
NUMBERS: tuple[tuple[str, Param], ...] = (("911", "911"), ("112", (UNKNOWN_NUMBER,)))  # the longest wording too


Case = tuple[dict[str, Any], frozenset[str]]  # findings, and those answered "not sure"


def random_findings(count: int, seed: int = 15) -> list[Case]:
    """Many signs at once (far more than people report), ages from a toddler to 80, a third with "not sure" answers:
    the longest outcomes."""
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        facts: dict[str, Any] = {name: rng.random() < 0.12 for name in BOOLEAN_FINDINGS}
        facts.update(age=rng.choice([3, 12, 15, 30, 60, 80]), duration_days=rng.choice([0.2, 2, 10, 60]))
        facts.update(pain_score=rng.choice([2, 5, 9]), onset=rng.choice(["sudden", "gradual"]))
        unsure = frozenset(rng.sample(sorted(BOOLEAN_FINDINGS), 2)) if i % 3 == 0 else frozenset()
        cases.append((facts, unsure))
    return cases


CASES: list[Case] = [(case["facts"], frozenset()) for case in VIGNETTES] + random_findings(400)


def composed(
    facts: dict[str, Any], number: Param, dial: str, escalation: Escalation, unsure: frozenset[str] = frozenset()
) -> tuple[SendReply, Text]:
    """The outcome as the engine composes it, and its call-now line."""
    findings = Findings.model_validate(facts)
    assessment, certain = rules.assess(findings, unsure), rules.assess(findings)
    child = rules.child(findings)
    ending = closing(
        assessment.level, Policy(escalation=escalation), told=assessment.level >= Level.urgent, locale="en"
    )
    reply = outcome.outcome_reply(assessment, certain, number=number, dial=dial, child=child, closing=ending)
    if assessment.level is Level.emergency:
        return reply, reply.parts[0]
    return reply, next(p for p in reply.parts if p.key.startswith("watch.call_if"))


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("escalation", ["off", "anonymous"])
def test_every_outcome_is_at_most_two_sms_and_six_segments_with_the_call_now_line_first(
    content: Content, locale: str, escalation: Escalation
) -> None:
    catalog, too_big = content.catalog, []
    for facts, unsure in CASES:
        for dial, number in NUMBERS:
            reply, call_now = composed(facts, number, dial, escalation, unsure)
            bodies = render_sms(reply, catalog, locale)
            total = sum(segments(body) for body in bodies)
            first = to_gsm(catalog.render(call_now, locale))
            if len(bodies) > MOST_MESSAGES or total > MOST_SEGMENTS or first not in bodies[0]:
                too_big.append((facts, dial, len(bodies), total))
            assert all(segments(body) <= MAX_SMS_SEGMENTS for body in bodies)
    assert too_big == []


def test_the_spanish_outcomes_fold_to_gsm_7(content: Content) -> None:
    for facts, unsure in CASES[:50]:
        reply, _ = composed(facts, "911", "911", "off", unsure)
        bodies = render_sms(reply, content.catalog, "es")
        assert all(to_gsm(body) == body for body in bodies)


def test_the_sms_offers_the_details_in_one_line(content: Content) -> None:
    reply, _ = composed({"age": 40, "onset": "gradual", "trauma": False}, "911", "911", "off")
    assert [o.id for o in reply.more] == ["tips", "why"]
    assert render_sms(reply, content.catalog, "en")[-1].endswith("Reply TIPS for home-care tips and why I advise this.")
    assert render_sms(reply, content.catalog, "es")[-1].endswith(
        "Responda CONSEJOS para ver consejos para casa y el porqué de este consejo."
    )


def test_an_emergency_outcome_offers_nothing_before_the_call(content: Content) -> None:
    reply, _ = composed({"short_of_breath": True}, "911", "911", "off")
    assert reply.more == () and reply.call == "911"
    assert "Reply TIPS" not in "".join(render_sms(reply, content.catalog, "en"))


# --- the details, asked for -------------------------------------------------------------------------------------

HOME_CARE = ("6", "4", "40", "4", "3", "5", "4", "2 days", "3")


def home_care(content: Content, clock: FixedClock, locale: str = "en") -> Talk:
    talk = Talk(content, clock, locale=locale)
    talk.send("hola" if locale == "es" else "hi")
    talk.answer(*HOME_CARE)
    assert talk.level is Level.self_care
    return talk


def test_tips_gives_the_home_care_tips_the_reason_and_the_causes(content: Content, clock: FixedClock) -> None:
    talk = home_care(content, clock)
    turn = talk.send("TIPS")
    got = keys(turn)
    assert got[0] == "outcome.tips" and "care.pain_relief" in got
    assert "outcome.reason" in got and "outcome.causes" in got
    assert "This is because the ache came on slowly, without an injury." in talk.text(turn)


def test_consejos_in_spanish(content: Content, clock: FixedClock) -> None:
    talk = home_care(content, clock, "es")
    said = talk.text(talk.send("consejos"))
    assert said.startswith("Lo que puede ayudar mientras tanto:") and "Posibles causas:" in said


def test_on_telegram_the_outcome_is_one_message_with_a_button_for_each_detail(
    content: Content, clock: FixedClock
) -> None:
    talk = Talk(content, clock)
    talk.send("hi")
    turn = talk.answer(*HOME_CARE)
    (reply,) = [r for r in turn.replies if r.kind == "outcome"]
    message = render_telegram(reply, content.catalog, "en")
    assert [(b.label, b.data) for b in message.buttons] == [("Home-care tips", "_more:tips"), ("Why?", "_more:why")]
    tips = talk.send(ChoiceSelected(MORE_NODE, "tips"))
    assert keys(tips)[0] == "outcome.tips" and "outcome.causes" not in keys(tips)
    why = talk.send(ChoiceSelected(MORE_NODE, "why"))
    assert keys(why) == ["outcome.reason", "outcome.causes"]


def test_tips_with_no_advice_given_says_there_is_nothing_to_add(content: Content, clock: FixedClock) -> None:
    talk = Talk(content, clock)
    talk.send("hi")
    turn = talk.send("tips")
    assert keys(turn)[0] == "more.none" and turn.replies[-1].node == "emergency_signs"


# --- "your child" -----------------------------------------------------------------------------------------------


def test_a_childs_outcome_and_call_now_line_say_your_child(content: Content, clock: FixedClock) -> None:
    talk = Talk(content, clock)
    talk.send("hi")
    turn = talk.answer("6", "4", "9", "4", "3", "3", "5", "4", "2 days", "3")  # 9 years old, limping, no injury
    said = talk.text(turn)
    assert talk.level is Level.urgent and said.startswith("Get your child seen today")
    assert "Call 911 at once if your child: gets short of breath" in said
    adult = Talk(content, clock)
    adult.send("hi")
    grown = adult.text(adult.answer(*HOME_CARE))
    assert "your child" not in grown and "Call 911 at once if: you get short of breath" in grown


def test_every_child_wording_exists_in_every_locale(content: Content) -> None:
    for key in outcome.CHILD_WORDED:
        for locale in content.catalog.locales:
            assert content.catalog.has(key + outcome.CHILD, locale), (key, locale)
