"""HUMAN with the clinic's staff on duty, in the engine: the consent question, the person talking to staff (their
messages shared, red flags still first, STOP and DELETE still commands), check-ins waiting, and the hand back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.content.loader import Content
from bot.triage.effects import CancelCheckIns, DeleteData, Escalate, ScheduleCheckIn, SendReply, ShareWithStaff
from bot.triage.engine import HANDOFF_NODE, Policy, Turn, advance, new_session
from bot.triage.events import CheckInDue, ChoiceSelected, CommandReceived, Event, HandoffEnded, MessageReceived
from bot.triage.findings import Level
from bot.triage.session import Session, SessionStatus

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
CLINIC = "555 0100 (Mon-Fri 8:00-18:00)"
CLINIC_ES = "555 0100 (lun-vie 8:00-18:00)"


def step(content: Content, session: Session, event: Event, *, clinic: str | None = CLINIC) -> Turn:
    reach = {"en": clinic, "es": CLINIC_ES} if clinic else {}
    policy = Policy(escalation="anonymous", countries=content.countries, clinic=reach)
    return advance(
        content.intake, session, event, NOW, policy=policy, checkin=content.checkin, language=content.language
    )


def said(content: Content, turn: Turn, locale: str = "en") -> str:
    return "\n".join(content.catalog.render(p, locale) for r in turn.replies for p in r.parts)


def midway(content: Content, locale: str = "en") -> Session:
    """A conversation on its first question."""
    session = new_session(content.intake, NOW, locale, "US")
    return step(content, session, MessageReceived("hola" if locale == "es" else "hi")).session


def talking(content: Content) -> Session:
    asked = step(content, midway(content), MessageReceived("HUMAN")).session
    return step(content, asked, MessageReceived("yes")).session


def escalations(turn: Turn) -> list[Escalate]:
    return [e for e in turn.effects if isinstance(e, Escalate)]


def shared(turn: Turn) -> list[str]:
    return [e.text for e in turn.effects if isinstance(e, ShareWithStaff)]


@pytest.mark.parametrize(("locale", "human", "yes"), [("en", "HUMAN", "yes"), ("en", "talk to someone", "1"),
                                                      ("es", "hablar con alguien", "sí")])  # fmt: skip
def test_human_asks_consent_first_and_yes_opens_a_handoff(content: Content, locale: str, human: str, yes: str) -> None:
    asked = step(content, midway(content, locale), MessageReceived(human))
    (question,) = asked.replies
    assert question.node == HANDOFF_NODE and [c.id for c in question.choices] == ["yes", "no"]
    assert escalations(asked) == [] and asked.session.handoff == "asked"
    assert ("agree to share" if locale == "en" else "Acepta compartir") in said(content, asked, locale)

    turn = step(content, asked.session, MessageReceived(yes))
    [escalation] = escalations(turn)
    assert (escalation.reason, escalation.consent) == ("human", True)
    assert turn.session.handoff == "open"
    text = said(content, turn, locale)
    assert ("reply as soon as they can" if locale == "en" else "le responderán") in text
    assert (CLINIC if locale == "en" else CLINIC_ES) in text and "911" in text


def test_a_button_answers_the_consent_question_and_no_keeps_the_person_anonymous(content: Content) -> None:
    asked = step(content, midway(content), CommandReceived("human")).session
    turn = step(content, asked, ChoiceSelected(HANDOFF_NODE, "no"))
    [escalation] = escalations(turn)
    assert escalation.consent is False and turn.session.handoff is None
    text = said(content, turn)
    assert "cannot see your name or number" in text and f"call the clinic on {CLINIC}" in text
    assert turn.replies[-1].node == "emergency_signs"  # and the question it was on, again


def test_no_answer_twice_counts_as_no(content: Content) -> None:
    asked = step(content, midway(content), MessageReceived("HUMAN")).session
    again = step(content, asked, MessageReceived("what do you mean"))
    assert escalations(again) == [] and again.session.handoff == "asked_again"
    assert "yes or a no" in said(content, again)
    turn = step(content, again.session, MessageReceived("hmm"))
    assert [e.consent for e in escalations(turn)] == [False] and turn.session.handoff is None


def test_while_talking_to_staff_messages_go_to_them_and_kneebot_says_nothing(content: Content) -> None:
    session = talking(content)
    turn = step(content, session, MessageReceived("the pain is worse when I walk, and 7 out of 10"))
    assert shared(turn) == ["the pain is worse when I walk, and 7 out of 10"]
    assert turn.replies == () and turn.session.node == session.node and turn.session.answers == session.answers


def test_a_red_flag_while_talking_to_staff_interrupts_first_and_staff_see_it(content: Content) -> None:
    turn = step(content, talking(content), MessageReceived("now my calf is swollen and I can't breathe"))
    assert shared(turn) == ["now my calf is swollen and I can't breathe"]
    assert turn.replies[0].kind == "interrupt" and "Call 911 now" in said(content, turn)
    assert [e.level for e in escalations(turn)] == ["emergency"]
    assert turn.session.handoff == "open" and turn.session.status is SessionStatus.escalated


def test_stop_and_delete_still_work_while_talking_to_staff(content: Content) -> None:
    stopped = step(content, talking(content), MessageReceived("STOP"))
    assert stopped.session.status is SessionStatus.stopped
    assert any(isinstance(e, CancelCheckIns) for e in stopped.effects)
    deleted = step(content, talking(content), CommandReceived("delete"))
    assert any(isinstance(e, DeleteData) for e in deleted.effects)
    other = step(content, talking(content), CommandReceived("restart"))
    assert "You are talking to the clinic team" in said(content, other) and other.session.handoff == "open"


def test_a_checkin_waits_while_the_person_talks_to_staff(content: Content) -> None:
    session = talking(content).model_copy(
        update={"status": SessionStatus.completed, "node": None, "level": Level.soon, "checkins_scheduled": 1}
    )
    turn = step(content, session, CheckInDue(1))
    assert turn.replies == ()
    [later] = [e for e in turn.effects if isinstance(e, ScheduleCheckIn)]
    assert later.seq == 2 and later.due_at - NOW == timedelta(minutes=30) and not later.exempt_from_quiet_hours


def test_handed_back_the_person_is_told_and_the_question_comes_again(content: Content) -> None:
    turn = step(content, talking(content), HandoffEnded())
    assert turn.session.handoff is None
    text = said(content, turn)
    assert text.startswith("The clinic team has closed this conversation: you are back with kneebot.")
    assert isinstance(turn.replies[-1], SendReply) and turn.replies[-1].node == "emergency_signs"
    after = step(content, turn.session, MessageReceived("no"))
    assert shared(after) == [] and after.session.answers  # kneebot reads the answers again


def test_handed_back_twice_or_never_handed_off_says_nothing(content: Content) -> None:
    assert step(content, midway(content), HandoffEnded()).replies == ()


def test_escalation_replies_below_emergency_give_the_clinics_number(content: Content) -> None:
    session = midway(content)
    urgent = step(content, session, MessageReceived("my calf is swollen and red on one side"))
    assert f"call the clinic on {CLINIC}" in said(content, urgent)
    emergency = step(content, session, MessageReceived("I can't breathe"))
    assert CLINIC not in said(content, emergency)  # an emergency's one action is the call
    assert CLINIC not in said(content, step(content, session, MessageReceived("my calf is swollen and red on one side"),
                                            clinic=None))  # fmt: skip


def test_the_clinics_hours_are_given_in_the_persons_language(content: Content) -> None:
    session = midway(content, "es")
    urgent = said(
        content, step(content, session, MessageReceived("tengo la pantorrilla hinchada y roja de un lado")), "es"
    )
    assert CLINIC_ES in urgent and "Mon-Fri" not in urgent
