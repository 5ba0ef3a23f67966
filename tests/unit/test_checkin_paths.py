"""Every path of a check-in (flows/checkin.yaml), as a whole conversation on a clock the test moves: what it asks after
each level, what each answer gives, and that every check-in restates the emergency number."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from talk import Talk, asked, audits, escalations, keys

from bot.channels.render import render_sms
from bot.content.loader import Content
from bot.triage.effects import SendReply
from bot.triage.findings import Level
from bot.triage.safety import SAFETY_NODE
from bot.triage.session import SessionStatus
from tests.conftest import FixedClock

SELF_CARE = ("6", "4", "40", "4", "3", "5", "4", "2 days", "3")  # gradual ache, no signs: home care
SOON = ("6", "4", "40", "3", "3", "5", "4", "2 days", "3")  # a swollen knee, not hot: book an appointment
# An injury and 4 steps impossible (Ottawa): be seen today, a rule with no single sign to ask about again.
URGENT = ("6", "4", "40", "4", "1", "5", "2", "5", "4", "1 day", "5")
EMERGENCY = ("1",)  # short of breath in the last 24 hours: call now


def after(content: Content, clock: FixedClock, answers: tuple[str, ...], level: Level, **kw: str) -> Talk:
    talk = Talk(content, clock, **kw)
    talk.send("hi")
    talk.answer(*answers)
    assert talk.session.status is SessionStatus.completed and talk.level is level
    return talk


def outcome(turn_replies: tuple[SendReply, ...]) -> SendReply:
    (reply,) = [r for r in turn_replies if r.kind == "outcome"]
    return reply


# --- after an emergency or urgent message: "Were you seen?" ----------------------------------------------------------


@pytest.mark.parametrize(("answers", "level", "hours"), [(EMERGENCY, Level.emergency, 1), (URGENT, Level.urgent, 6)])
def test_the_checkin_after_call_now_or_be_seen_today_asks_whether_they_were_seen(
    content: Content, clock: FixedClock, answers: tuple[str, ...], level: Level, hours: int
) -> None:
    talk = after(content, clock, answers, level)
    start = clock.now()
    turn = talk.due()
    assert clock.now() - start == timedelta(hours=hours)
    assert asked(turn) == "seen" and "Have you been seen" in talk.text(turn) and "911" in talk.text(turn)


@pytest.mark.parametrize(("answers", "level"), [(EMERGENCY, Level.emergency), (URGENT, Level.urgent)])
def test_seen_and_better_still_says_to_finish_the_care_and_restates_the_call_now_signs(
    content: Content, clock: FixedClock, answers: tuple[str, ...], level: Level
) -> None:
    talk = after(content, clock, answers, level)
    talk.due()
    assert asked(talk.send("yes")) == "how"
    said = talk.text(talk.send("better"))
    assert "finish the treatment you were given" in said
    assert "Call 911 at once if: you get short of breath or chest pain" in said
    assert talk.session.status is SessionStatus.completed


@pytest.mark.parametrize(("answers", "level"), [(EMERGENCY, Level.emergency), (URGENT, Level.urgent)])
def test_seen_and_the_same_keeps_to_the_plan_they_were_given(
    content: Content, clock: FixedClock, answers: tuple[str, ...], level: Level
) -> None:
    talk = after(content, clock, answers, level)
    talk.due()
    talk.send("1")
    said = talk.text(talk.send("about the same"))
    assert "Keep to the plan you were given" in said and "Call 911 at once if" in said
    assert "What can help meanwhile" not in said


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("not yet", "Please call 911 now, or ask someone to call for you. Do not drive yourself."),
        ("3", "Please call 911 now. The ambulance can come to you"),  # couldn't be seen
    ],
)
def test_not_yet_or_couldnt_after_call_now_repeats_it_with_the_number_to_tap(
    content: Content, clock: FixedClock, answer: str, said: str
) -> None:
    talk = after(content, clock, EMERGENCY, Level.emergency)
    talk.due()
    turn = talk.send(answer)
    assert talk.text(turn).startswith(said) and "at once if" not in talk.text(turn)
    assert outcome(turn.replies).call == "911"


def test_not_yet_after_be_seen_today_repeats_the_advice_with_the_number(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, URGENT, Level.urgent)
    talk.due()
    said = talk.text(talk.send("no"))
    assert said.startswith("Please get seen today, within the next few hours")
    assert "If you cannot get there safely, call 911." in said and "Call 911 at once if" in said


def test_could_not_after_be_seen_today_points_to_an_emergency_department(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, URGENT, Level.urgent)
    talk.due()
    said = talk.text(talk.send("I couldn't get an appointment"))
    assert said.startswith("If you could not get an appointment, go to an emergency department today")
    assert "call 911" in said


@pytest.mark.parametrize(("answers", "level", "hours"), [(EMERGENCY, Level.emergency, 1), (URGENT, Level.urgent, 6)])
def test_not_seen_yet_is_asked_again_later_twice_at_most_then_the_last_checkin(
    content: Content, clock: FixedClock, answers: tuple[str, ...], level: Level, hours: int
) -> None:
    talk = after(content, clock, answers, level)
    for _ in range(2):  # "not yet", then "couldn't be seen": each time the advice again and one more check-in
        talk.due()
        said = talk.text(talk.send("not yet"))
        assert "I will check in with you again later." in said and "last check-in" not in said
        ((seq, at),) = talk.pending.items()
        assert at - clock.now() == timedelta(hours=hours)
        assert ("checkin_rescheduled", {"seq": str(seq), "level": level.value}) in audits(talk.turns[-1])
    talk.due()
    said = talk.text(talk.send("3"))
    assert "This was my last check-in." in said and talk.pending == {}


def test_a_new_assessment_gives_the_not_seen_checkins_again(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, EMERGENCY, Level.emergency)
    for _ in range(2):
        talk.due()
        talk.send("not yet")
    assert talk.session.rechecks == 2
    talk.send("RESTART")
    talk.answer(*URGENT)
    assert talk.session.rechecks == 0 and talk.level is Level.emergency  # the call-now message of today still stands
    talk.due()
    assert "I will check in with you again later." in talk.text(talk.send("not yet"))


def test_the_checkin_after_a_clot_message_asks_whether_they_were_seen_in_spanish(
    content: Content, clock: FixedClock
) -> None:
    talk = Talk(content, clock, locale="es", country="MX")
    talk.send("hola")
    talk.send("tengo la pantorrilla izquierda hinchada y caliente")
    talk.send("no")  # no breathing trouble, chest pain, blood or fainting: the same-day advice stands
    turn = talk.due()
    assert asked(turn) == "seen"
    said = talk.text(talk.send("todavía no"))
    assert said.startswith("Por favor, busque atención hoy") and "911" in said


@pytest.mark.parametrize(
    ("first", "start", "answer", "said"),
    [
        ("i cant breathe", "seen", "not yet", "Please call 911 now, or ask someone to call for you."),
        ("my left calf is swollen and hot", "seen", "no", "Please get seen today, within the next few hours"),
        ("I want to kill myself", "safe", "yes", "I'm glad you are safe right now."),
    ],
)
def test_a_checkin_after_an_alarm_in_the_very_first_message_takes_its_answers(
    content: Content, clock: FixedClock, first: str, start: str, answer: str, said: str
) -> None:
    """Most alarms are the first thing a person says, before any welcome: the check-in's answer is still its answer,
    never the start of a new conversation."""
    talk = Talk(content, clock)
    talk.send(first)
    if talk.session.safety_check is not None:
        talk.send("no")  # the clot message's emergency signs: none, the same-day advice stands
    assert asked(talk.due()) == start
    turn = talk.send(answer)
    assert "Hi, I'm kneebot" not in talk.text(turn) and talk.text(turn).startswith(said)
    assert talk.session.status is SessionStatus.completed


# --- after a crisis message: "Are you safe right now?", never the knee ----------------------------------------------

KNEE = re.compile(r"\b(knee|rodilla)\b", re.IGNORECASE)  # "kneebot" is the bot's name, not a question


def crisis(content: Content, clock: FixedClock) -> Talk:
    talk = Talk(content, clock)
    talk.send("hi")
    talk.send("I don't want to be alive anymore")
    assert talk.session.interrupt == "crisis"
    return talk


def test_the_checkin_after_a_crisis_message_asks_are_you_safe_and_never_about_the_knee(
    content: Content, clock: FixedClock
) -> None:
    talk = crisis(content, clock)
    turn = talk.due()
    assert asked(turn) == "safe"
    said = talk.text(turn)
    assert "Are you safe right now?" in said and "911" in said
    assert not KNEE.search(said)


def test_safe_gets_the_line_and_the_number_and_no_question_about_the_knee(content: Content, clock: FixedClock) -> None:
    talk = crisis(content, clock)
    talk.due()
    turn = talk.send("yes")
    said = talk.text(turn)
    assert "glad you are safe" in said and "988" in said and "911" in said
    assert not KNEE.search(said) and asked(turn) is None


@pytest.mark.parametrize("answer", ["no", "not sure", "3"])
def test_not_safe_or_not_sure_gives_the_crisis_message_again(content: Content, clock: FixedClock, answer: str) -> None:
    talk = crisis(content, clock)
    talk.due()
    turn = talk.send(answer)
    assert turn.replies[0].kind == "interrupt"
    said = talk.text(turn)
    assert said.startswith("I'm really sorry you are going through this") and "988" in said and "911" in said
    assert escalations(turn) == ["emergency"] and talk.session.status is SessionStatus.escalated
    assert not KNEE.search(said)


# --- after "book an appointment" and home care: "How is your knee now?" ----------------------------------------------


@pytest.mark.parametrize(("answers", "level"), [(SOON, Level.soon), (SELF_CARE, Level.self_care)])
def test_better_encourages_and_restates_the_call_now_signs(
    content: Content, clock: FixedClock, answers: tuple[str, ...], level: Level
) -> None:
    talk = after(content, clock, answers, level)
    turn = talk.due()
    assert asked(turn) == "how" and "call 911" in talk.text(turn)
    said = talk.text(talk.send("better"))
    assert "good to hear" in said and "Call 911 at once if" in said


def test_same_after_home_care_still_gives_the_tips(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, SELF_CARE, Level.self_care)
    talk.due()
    turn = talk.send("same")
    assert "checkin.tips" in keys(turn) and any(k.startswith("care.") for k in keys(turn))
    first = render_sms(outcome(turn.replies), content.catalog, "en")[0]
    assert "Call 911 at once if" in first  # the tips after it: SMS can arrive out of order


def test_same_after_book_an_appointment_nudges_to_book(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, SOON, Level.soon)
    talk.due()
    turn = talk.send("same")
    assert "checkin.nudge.soon" in keys(turn) and "Call 911 at once if" in talk.text(turn)


# --- "worse": the safety questions and what can have changed, with what is already known -----------------------------


def questions(talk: Talk, start: int) -> list[str]:
    return [node for turn in talk.turns[start:] for r in turn.replies if r.kind == "question" and (node := r.node)]


def test_worse_after_home_care_asks_again_only_what_can_have_changed(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, SELF_CARE, Level.self_care)
    talk.due()  # 48 hours after the advice: the 2 days the pain had lasted are now 4
    start = len(talk.turns)
    turn = talk.send("worse")
    assert talk.text(turn).startswith("I'm sorry it's worse.") and asked(turn) == "emergency_signs"
    talk.answer("6", "4", "4", "5", "4", "2", "6")  # the course is asked: 4 days is 3 or more
    asked_again = questions(talk, start)
    assert "age" not in asked_again and "start_how" not in asked_again and "duration" not in asked_again
    assert asked_again == ["emergency_signs", "calf", "knee_swelling", "mechanical", "other_signs", "course", "pain"]
    findings, _ = content.intake.findings(talk.session.answers)
    assert findings.age == 40 and findings.onset == "gradual" and findings.duration_days == pytest.approx(4)
    assert talk.session.status is SessionStatus.completed and talk.level is Level.soon  # no better after 4 days


def test_worse_with_a_new_red_flag_is_the_emergency_message(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, SOON, Level.soon)
    talk.due()
    talk.send("worse")
    turn = talk.send("1")  # short of breath
    assert talk.text(turn).startswith("Call 911 now.") and talk.level is Level.emergency


def test_worse_after_call_now_asks_the_sign_again_first(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, EMERGENCY, Level.emergency)
    talk.due()
    talk.send("yes")
    turn = talk.send("worse")
    assert asked(turn) == SAFETY_NODE
    assert talk.text(turn).endswith("Are you short of breath right now, or struggling to breathe?")
    assert talk.text(talk.send("yes")).startswith("Call 911 now.")


def test_worse_after_be_seen_today_is_at_least_be_seen_today(content: Content, clock: FixedClock) -> None:
    talk = after(content, clock, URGENT, Level.urgent)
    talk.due()
    talk.send("yes")
    talk.send("worse")
    # Everything now answered as fine: the injury is kept, 4 steps are possible now, and yet the level stands.
    turn = talk.answer("6", "4", "4", "5", "1", "1", "5", "4", "3")
    assert talk.level is Level.urgent and talk.text(turn).startswith("Get seen today")
    assert "outcome.earlier" in keys(turn)
    assert ("assessment", {"level": "urgent", "reason": "earlier", "rules": "hamstring_strain",
                           "flow": "intake@2"}) in audits(turn)  # fmt: skip
    assert escalations(turn) == []  # the case was opened by the first outcome


def test_every_checkin_restates_the_emergency_number_where_the_country_has_none(
    content: Content, clock: FixedClock
) -> None:
    for answers, level in ((EMERGENCY, Level.emergency), (URGENT, Level.urgent), (SELF_CARE, Level.self_care)):
        talk = after(content, clock, answers, level, country="KE")
        said = talk.text(talk.due())
        assert "112 (from a mobile) or your local emergency number" in said and "911" not in said
