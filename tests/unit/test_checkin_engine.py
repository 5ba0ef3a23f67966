"""Check-ins and escalation in the engine: what a due check-in asks, what each answer does, HUMAN, staff wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.content.loader import Content
from bot.triage.effects import AuditRecord, CancelCheckIns, Escalate, ScheduleCheckIn
from bot.triage.engine import DEFAULT_CHECKINS, Escalation, Policy, Turn, advance, new_session
from bot.triage.events import CheckInDue, ChoiceSelected, Event, MessageReceived
from bot.triage.findings import Level
from bot.triage.session import Session, SessionStatus

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def completed(content: Content, level: Level, *, scheduled: int = 2, assessed: datetime = NOW) -> Session:
    """A conversation that ended with `level` and has `scheduled` check-ins."""
    return new_session(content.intake, assessed, "en", "US").model_copy(
        update={
            "status": SessionStatus.completed,
            "node": None,
            "disclaimer_shown": True,
            "level": level,
            "assessed_at": assessed,
            "checkins_scheduled": scheduled,
        }
    )


def step(content: Content, session: Session, event: Event, now: datetime = NOW, escalation: Escalation = "off") -> Turn:
    policy = Policy(escalation=escalation, countries=content.countries)
    return advance(
        content.intake, session, event, now, policy=policy, checkin=content.checkin, language=content.language
    )


def text(content: Content, turn: Turn) -> str:
    return "\n".join(content.catalog.render(p, "en") for r in turn.replies for p in r.parts)


def audits(turn: Turn) -> list[tuple[str, dict[str, str]]]:
    return [(e.kind, dict(e.fields)) for e in turn.effects if isinstance(e, AuditRecord)]


@pytest.mark.parametrize("level", [Level.soon, Level.self_care])
def test_a_due_checkin_asks_how_the_knee_is(content: Content, level: Level) -> None:
    turn = step(content, completed(content, level), CheckInDue(1))
    (reply,) = turn.replies
    assert reply.kind == "checkin" and reply.node == "how"
    assert [c.id for c in reply.choices] == ["better", "same", "worse"]
    said = text(content, turn)
    assert "How is your knee" in said and "call 911" in said  # every check-in restates the emergency number
    assert turn.session.flow_id == "checkin" and turn.session.status is SessionStatus.active
    assert turn.session.checkin_seq == 1
    assert ("checkin_sent", {"seq": "1", "level": level.value}) in audits(turn)


@pytest.mark.parametrize("level", [Level.emergency, Level.urgent])
def test_a_checkin_after_an_emergency_or_urgent_message_asks_first_whether_they_were_seen(
    content: Content, level: Level
) -> None:
    turn = step(content, completed(content, level), CheckInDue(1))
    (reply,) = turn.replies
    assert reply.kind == "checkin" and reply.node == "seen"
    assert [c.id for c in reply.choices] == ["yes", "not_yet", "could_not"]
    said = text(content, turn)
    assert "Have you been seen" in said and "911" in said and "How is your knee" not in said
    if level is Level.emergency:
        assert "got help" in said


@pytest.mark.parametrize(
    ("status", "node", "reason"),
    [(SessionStatus.stopped, None, "stopped"), (SessionStatus.active, "calf", "busy")],
)
def test_no_checkin_after_stop_or_in_the_middle_of_new_questions(
    content: Content, status: SessionStatus, node: str | None, reason: str
) -> None:
    session = completed(content, Level.soon).model_copy(update={"status": status, "node": node})
    turn = step(content, session, CheckInDue(1))
    assert turn.replies == ()
    assert turn.session == session
    assert ("checkin_skipped", {"seq": "1", "reason": reason}) in audits(turn)


def test_better_encourages_and_says_the_next_checkin_is_coming(content: Content) -> None:
    asked = step(content, completed(content, Level.self_care, scheduled=2), CheckInDue(1)).session
    turn = step(content, asked, MessageReceived("1"))
    said = text(content, turn)
    assert "good to hear" in said and "again later" in said
    assert turn.session.status is SessionStatus.completed and turn.session.flow_id == "intake"
    assert ("checkin_answered", {"seq": "1", "answer": "better", "level": "self_care"}) in audits(turn)
    last = step(content, step(content, turn.session, CheckInDue(2)).session, ChoiceSelected("how", "better"))
    assert "last check-in" in text(content, last)


@pytest.mark.parametrize(
    ("level", "days", "nudged"),
    [
        (Level.self_care, 2, False),
        (Level.self_care, 7, True),
        (Level.soon, 2.5, True),
    ],
)
def test_same_repeats_the_advice_and_nudges_once_past_the_expected_time(
    content: Content, level: Level, days: float, nudged: bool
) -> None:
    session = completed(content, level)
    later = NOW + timedelta(days=days)
    asked = step(content, session, CheckInDue(1), later).session
    turn = step(content, asked, MessageReceived("same"), later)
    said = text(content, turn)
    assert "Thanks for letting me know" in said
    nudges = [k for r in turn.replies for p in r.parts if (k := p.key).startswith("checkin.nudge.")]
    assert nudges == ([f"checkin.nudge.{level.value}"] if nudged else [])
    if level is not Level.emergency:
        assert "Call 911 at once if" in said  # the emergency signs, restated as in every message below emergency


def test_worse_goes_through_the_safety_questions_again(content: Content) -> None:
    asked = step(content, completed(content, Level.self_care), CheckInDue(1)).session
    turn = step(content, asked, MessageReceived("3"))
    assert "sorry it's worse" in text(content, turn).lower()
    assert turn.replies[-1].node == "emergency_signs"
    assert turn.session.flow_id == "intake" and turn.session.status is SessionStatus.active
    assert any(isinstance(e, CancelCheckIns) for e in turn.effects)
    assert turn.session.checkins_scheduled == 2  # new check-ins get new ids


def test_worse_with_a_red_flag_is_the_emergency_message_and_an_escalation(content: Content) -> None:
    asked = step(content, completed(content, Level.self_care), CheckInDue(1)).session
    turn = step(content, asked, MessageReceived("worse, and now I'm short of breath"), escalation="anonymous")
    said = text(content, turn)
    assert said.startswith("Call 911 now.")
    assert "clinic team" in said
    escalations = [e for e in turn.effects if isinstance(e, Escalate)]
    assert escalations and escalations[0].level == "emergency"
    assert turn.session.status is SessionStatus.escalated and turn.session.level is Level.emergency
    # and a fresh emergency check-in, an hour later
    assert [e.due_at - NOW for e in turn.effects if isinstance(e, ScheduleCheckIn)] == [timedelta(hours=1)]


@pytest.mark.parametrize(("words", "no"), [("HUMAN", "no"), ("talk to someone", "2"), ("hablar con alguien", "no")])
def test_human_opens_a_case_when_the_clinic_has_staff(content: Content, words: str, no: str) -> None:
    session = completed(content, Level.soon)
    asked = step(content, session, MessageReceived(words), escalation="anonymous")
    assert not [e for e in asked.effects if isinstance(e, Escalate)]  # the consent question first
    assert "clinic team" in text(content, asked) and asked.session.handoff == "asked"
    turn = step(content, asked.session, MessageReceived(no), escalation="anonymous")
    (escalation,) = [e for e in turn.effects if isinstance(e, Escalate)]
    assert (escalation.reason, escalation.level, escalation.consent) == ("human", "soon", False)
    assert "cannot see your name or number" in text(content, turn) and turn.session.handoff is None


def test_human_without_staff_says_so_honestly(content: Content) -> None:
    turn = step(content, completed(content, Level.soon), MessageReceived("human"))
    assert not [e for e in turn.effects if isinstance(e, Escalate)]
    assert "no one from a clinic" in text(content, turn) and "911" in text(content, turn)


def test_an_urgent_outcome_tells_the_person_the_clinic_knows(content: Content) -> None:
    session = new_session(content.intake, NOW, "en", "US")
    session = step(content, session, MessageReceived("hi"), escalation="anonymous").session
    turn = step(content, session, MessageReceived("my calf is swollen and red on one side"), escalation="anonymous")
    assert "also let the clinic team know" in text(content, turn)


@pytest.mark.parametrize(
    ("emergency", "offer"),
    [((timedelta(hours=1),), "checkin.offer.emergency"), ((timedelta(minutes=30),), "checkin.offer.later")],
)
def test_the_checkin_offer_names_times_only_for_the_default_schedule(
    content: Content, emergency: tuple[timedelta, ...], offer: str
) -> None:
    policy = Policy(checkins={**DEFAULT_CHECKINS, Level.emergency: emergency})
    session = advance(
        content.intake, new_session(content.intake, NOW), MessageReceived("hi"), NOW, language=content.language
    ).session
    turn = advance(
        content.intake, session, MessageReceived("1"), NOW, language=content.language, policy=policy
    )  # "short of breath"
    keys = [p.key for r in turn.replies for p in r.parts]
    assert offer in keys and [k for k in keys if k.startswith("checkin.offer")] == [offer]
