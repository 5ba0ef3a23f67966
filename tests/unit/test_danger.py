"""Danger remembered for 24 hours (RESTART, START after an outcome, a check-in's "worse" keep it; the sign's direct
question answered "no" drops it) and the emergency signs asked at once after an urgent clot message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from talk import Talk, asked, audits, escalations, keys

from bot.content.loader import Content
from bot.triage import danger, rules
from bot.triage.effects import CancelCheckIns, ScheduleCheckIn
from bot.triage.engine import CHECKIN_WAIT
from bot.triage.findings import Level
from bot.triage.safety import SAFETY_NODE
from bot.triage.session import DANGER_LASTS, SessionStatus
from tests.conftest import FixedClock

HOME_CARE = ("6", "4", "40", "4", "3", "5", "4", "2 days", "3")
OTTAWA = ("6", "4", "40", "4", "1", "5", "2", "5", "4", "1 day", "5")  # injury, can't take 4 steps: no single sign


def started(content: Content, clock: FixedClock, **kw: str) -> Talk:
    talk = Talk(content, clock, **kw)
    talk.send("hi")
    return talk


def cancelled(talk: Talk) -> bool:
    return any(isinstance(e, CancelCheckIns) for e in talk.turns[-1].effects)


# --- the interrupt answered "not sure", then RESTART --------------------------------------------------------------


def emergency_after_not_sure(content: Content, clock: FixedClock) -> Talk:
    talk = started(content, clock)
    talk.send("could I be getting short of breath?")
    talk.send("not sure")
    assert talk.level is Level.emergency and talk.session.status is SessionStatus.escalated
    return talk


@pytest.mark.parametrize("answer", ["not sure", "yes", "hmm"])
def test_restart_after_an_interrupt_answered_not_sure_stays_at_its_level(
    content: Content, clock: FixedClock, answer: str
) -> None:
    talk = emergency_after_not_sure(content, clock)
    clock.advance(timedelta(minutes=20))
    turn = talk.send("RESTART")
    assert asked(turn) == SAFETY_NODE and "danger.lead" in keys(turn)
    assert talk.text(turn).endswith("Are you short of breath right now, or struggling to breathe?")
    assert not cancelled(talk)  # the hour's check-in stands
    if answer == "hmm":  # not understood: asked once more, then it counts as not sure
        talk.send(answer)
    turn = talk.send(answer)
    assert talk.text(turn).startswith("Call 911 now.") and talk.level is Level.emergency
    assert escalations(turn) == ["emergency"] and talk.session.status is SessionStatus.escalated


def test_restart_after_no_to_the_direct_question_proceeds_normally(content: Content, clock: FixedClock) -> None:
    talk = emergency_after_not_sure(content, clock)
    talk.send("restart")
    turn = talk.send("no")
    assert asked(turn) == "emergency_signs" and talk.text(turn).startswith("Thank you. If it comes back, call 911")
    assert ("danger_dropped", {"flags": "short_of_breath"}) in audits(turn)
    assert talk.session.danger is not None and talk.session.danger.open_signs == ()
    turn = talk.answer(*HOME_CARE)
    assert talk.level is Level.self_care and "outcome.earlier" not in keys(turn)


def test_the_danger_expires_after_24_hours(content: Content, clock: FixedClock) -> None:
    talk = emergency_after_not_sure(content, clock)
    clock.advance(DANGER_LASTS - timedelta(minutes=1))
    assert asked(talk.send("restart")) == SAFETY_NODE
    clock.advance(timedelta(minutes=1))
    turn = talk.send("restart")
    assert asked(turn) == "emergency_signs" and cancelled(talk)
    talk.answer(*HOME_CARE)
    assert talk.level is Level.self_care


def test_start_after_an_emergency_outcome_asks_the_sign_again(content: Content, clock: FixedClock) -> None:
    talk = started(content, clock)
    talk.send("2")  # chest pain in the last 24 hours
    assert talk.level is Level.emergency and talk.session.status is SessionStatus.completed
    turn = talk.send("START")
    assert asked(turn) == SAFETY_NODE and talk.session.safety_check is not None
    assert talk.session.safety_check.flags == ("chest_pain",) and talk.session.safety_check.kind == "danger"


def test_a_level_with_no_single_sign_stands_for_24_hours(content: Content, clock: FixedClock) -> None:
    talk = started(content, clock)
    talk.answer(*OTTAWA)
    assert talk.level is Level.urgent
    held = talk.session.danger
    assert held is not None and held.held and held.signs == ()
    clock.advance(timedelta(hours=3))
    turn = talk.send("restart")
    assert asked(turn) == "emergency_signs"  # nothing to ask: the level simply stands
    turn = talk.answer(*HOME_CARE)
    said = talk.text(turn)
    assert talk.level is Level.urgent and said.startswith("Get seen today")
    assert "because of what you told me in the last 24 hours" in said
    clock.advance(timedelta(hours=21))
    talk.send("restart")
    talk.answer(*HOME_CARE)
    assert talk.level is Level.self_care


def test_restart_keeps_the_checkin_and_it_waits_for_questions_in_progress(content: Content, clock: FixedClock) -> None:
    talk = started(content, clock)
    talk.send("I can't breathe properly")
    (hour,) = talk.pending.values()
    clock.advance(timedelta(minutes=50))
    talk.send("restart")
    talk.send("no")  # not short of breath now: the questions start
    assert talk.pending and talk.active
    clock.current = hour
    turn = talk.due()  # due while the person answers: it waits
    assert turn.replies == () and ("checkin_deferred", {"seq": "1", "reason": "busy"}) in audits(turn)
    (later,) = [e for e in turn.effects if isinstance(e, ScheduleCheckIn)]
    assert later.due_at == hour + CHECKIN_WAIT and later.level == "emergency"
    turn = talk.due()  # still nothing answered since: the questions were left, so the check-in goes ahead
    assert asked(turn) == "seen" and "We hope you got help" in talk.text(turn)


def test_a_withdrawn_sign_is_not_asked_again(content: Content, clock: FixedClock) -> None:
    talk = started(content, clock)
    talk.send("6")
    talk.send("I'm short of breath")
    talk.send("I'm not short of breath, I was quoting the nurse")
    talk.send("no")
    assert talk.session.danger is not None and talk.session.danger.open_signs == ()
    assert asked(talk.send("restart")) == "emergency_signs"


# --- the urgent clot message asks the emergency signs at once ------------------------------------------------------


def clot(content: Content, clock: FixedClock, **kw: str) -> Talk:
    talk = Talk(content, clock, **kw)
    turn = talk.send("my left calf is swollen and hot, much bigger than the right")
    (reply,) = turn.replies  # one reply: the clot message and the question
    assert reply.kind == "interrupt" and reply.node == SAFETY_NODE
    assert [c.id for c in reply.choices] == ["yes", "no", "not_sure"]
    said = talk.text(turn)
    assert said.startswith("Get seen today")
    assert said.endswith(
        "in the last 24 hours, have you been short of breath, had chest pain, coughed up blood or fainted?"
    )
    assert talk.level is Level.urgent and escalations(turn) == ["urgent"]
    return talk


@pytest.mark.parametrize("answer", ["yes", "not sure", "1", "3"])
def test_yes_or_not_sure_to_the_clot_question_is_the_emergency_message(
    content: Content, clock: FixedClock, answer: str
) -> None:
    talk = clot(content, clock)
    turn = talk.send(answer)
    said = talk.text(turn)
    assert said.startswith("Call 911 now.") and "travelled to the lung" in said
    assert turn.replies[0].call == "911" and escalations(turn) == ["emergency"]
    assert talk.level is Level.emergency and talk.session.safety_check is None
    assert [e.due_at - clock.now() for e in turn.effects if isinstance(e, ScheduleCheckIn)] == [timedelta(hours=1)]


@pytest.mark.parametrize("answer", ["no", "2", "nope"])
def test_no_to_the_clot_question_keeps_the_same_day_advice(content: Content, clock: FixedClock, answer: str) -> None:
    talk = clot(content, clock)
    turn = talk.send(answer)
    said = talk.text(turn)
    assert said.startswith("Thank you. Please still get seen today") and "call 911 at once" in said
    assert talk.level is Level.urgent and talk.session.status is SessionStatus.escalated
    assert escalations(turn) == [] and talk.session.safety_check is None


def test_the_clot_question_in_spanish(content: Content, clock: FixedClock) -> None:
    talk = Talk(content, clock, locale="es", country="ES")
    turn = talk.send("tengo la pantorrilla hinchada y roja")
    asked_es = "¿le ha faltado el aire, ha tenido dolor en el pecho, ha tosido sangre o se ha desmayado?"
    assert talk.text(turn).endswith(asked_es)
    assert talk.text(talk.send("sí")).startswith("Llame al 112 ahora.")


# --- what an outcome leaves behind ----------------------------------------------------------------------------------


def test_every_mapped_sign_asks_at_the_level_of_its_rule(content: Content) -> None:
    table = content.red_flags
    for rule_id, signs in danger.RULE_SIGNS.items():
        rule = rules.RULE_BY_ID[rule_id]
        assert rule.red_flag and rule.level >= Level.urgent, rule_id
        assert all(table.get(sign).interrupt == rule.level.value for sign in signs), rule_id
    assert all(table.get(sign).interrupt == "emergency" for sign in danger.PE_SIGNS)
