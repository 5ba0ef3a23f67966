"""The safety question (a sign asked about, supposed or said weakly; a sign taken back after it interrupted) and the
interrupt's wording, emergency and crisis in one reply, through the real engine, flows and catalogs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.content.loader import Content
from bot.triage.effects import AuditRecord, Escalate, SendReply
from bot.triage.engine import Policy, Turn, advance, new_session
from bot.triage.events import CheckInDue, ChoiceSelected, CommandReceived, Event, MessageReceived
from bot.triage.language import Language
from bot.triage.lexicon import Lexicon
from bot.triage.safety import SAFETY_NODE
from bot.triage.session import SessionStatus

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class Chat:
    def __init__(self, content: Content, country: str | None = "US", locale: str = "en") -> None:
        self.content = content
        self.session = new_session(content.intake, NOW, locale, country)

    def send(self, event: Event | str) -> Turn:
        if isinstance(event, str):
            event = MessageReceived(event)
        turn = advance(
            self.content.intake,
            self.session,
            event,
            NOW,
            language=self.content.language,
            policy=Policy(countries=self.content.countries),
            checkin=self.content.checkin,
        )
        self.session = turn.session
        return turn

    def text(self, turn: Turn) -> str:
        return "\n".join(self.content.catalog.render(p, self.session.locale) for r in turn.replies for p in r.parts)


def started(content: Content, **kw: str) -> Chat:
    chat = Chat(content, **kw)
    chat.send("hello")
    chat.send("none of these")  # the first question answered: the conversation is at "calf"
    assert chat.session.node == "calf"
    return chat


def asked(turn: Turn) -> SendReply:
    (reply,) = [r for r in turn.replies if r.node == SAFETY_NODE]
    return reply


def audits(turn: Turn) -> list[str]:
    return [e.kind for e in turn.effects if isinstance(e, AuditRecord)]


def escalated(turn: Turn) -> bool:
    return any(isinstance(e, Escalate) for e in turn.effects)


# --- a sign only asked about ----------------------------------------------------------------------------------


def test_a_question_about_a_sign_gets_one_yes_no_question_and_nothing_else(content: Content) -> None:
    chat = started(content)
    turn = chat.send("could this be a clot in my lung?")
    reply = asked(turn)
    assert len(turn.replies) == 1 and reply.kind == "confirm"
    assert [c.id for c in reply.choices] == ["yes", "no", "not_sure"]
    assert chat.text(turn) == "Are you short of breath right now, or struggling to breathe?"
    check = chat.session.safety_check
    assert check is not None and check.kind == "confirm" and check.flags == ("short_of_breath",)
    assert check.resume.node == "calf" and check.resume.status is SessionStatus.active
    assert chat.session.node == "calf" and not escalated(turn)
    assert "safety_check" in audits(turn)


@pytest.mark.parametrize("answer", ["yes", "not sure", "1", "3", "a bit", "si", ChoiceSelected(SAFETY_NODE, "yes")])
def test_yes_or_not_sure_gives_the_sign_s_message(content: Content, answer: str | ChoiceSelected) -> None:
    chat = started(content)
    chat.send("what if I'm getting short of breath?")
    turn = chat.send(answer)
    assert chat.text(turn).startswith("Call 911 now.")
    assert escalated(turn) and chat.session.status is SessionStatus.escalated
    assert chat.session.safety_check is None and chat.session.interrupt == "emergency"


NO = ["no", "2", "nope, I'm fine", "I'm not short of breath", ChoiceSelected(SAFETY_NODE, "no")]


@pytest.mark.parametrize("answer", NO)
def test_no_carries_on_with_the_question_that_was_pending(content: Content, answer: str | ChoiceSelected) -> None:
    chat = started(content)
    chat.send("what if I'm getting short of breath?")
    turn = chat.send(answer)
    assert [r.node for r in turn.replies] == ["calf"]
    assert chat.text(turn).startswith("Thank you. Let's carry on.")
    assert chat.session.safety_check is None and chat.session.node == "calf"
    assert chat.session.status is SessionStatus.active and not escalated(turn)


def test_no_after_the_questions_ended_says_nothing_more_than_thanks(content: Content) -> None:
    chat = started(content)
    chat.send("1")  # "short of breath" is no longer pending: answer the calf question
    chat.session = chat.session.model_copy(update={"status": SessionStatus.completed, "node": None})
    chat.send("can a clot cause chest pain?")
    turn = chat.send("no")
    assert [r.node for r in turn.replies] == [None]
    assert chat.text(turn) == "Thank you. If that changes, call 911 at once."


def test_a_first_message_asked_about_gets_the_welcome_after_no(content: Content) -> None:
    chat = Chat(content)
    chat.send("could I have a clot?")
    assert chat.session.safety_check is not None
    turn = chat.send("no")
    assert chat.session.disclaimer_shown
    assert [r.node for r in turn.replies if r.node] == [content.intake.start]


def test_an_unclear_answer_is_asked_once_more_then_counts_as_not_sure(content: Content) -> None:
    chat = started(content)
    chat.send("is it normal to be out of breath after knee surgery?")
    again = chat.send("what do you mean")
    assert asked(again).parts[0].key == "safety.again"
    assert chat.session.safety_check is not None and chat.session.safety_check.asked == 2
    turn = chat.send("hmm")
    assert chat.text(turn).startswith("Call 911 now.")


def test_a_red_flag_said_while_the_question_is_pending_interrupts_at_once(content: Content) -> None:
    chat = started(content)
    chat.send("could this be a clot?")
    turn = chat.send("I'm coughing up blood")
    assert chat.text(turn).startswith("Call 911 now.")
    assert chat.session.safety_check is None


def test_no_but_another_question_asks_about_that_one(content: Content) -> None:
    chat = started(content)
    chat.send("am I having a heart attack?")
    turn = chat.send("no, but could this be a clot?")
    assert asked(turn)
    assert chat.session.safety_check is not None and chat.session.safety_check.flags == ("clot_concern",)


def test_an_old_button_while_the_question_is_pending_asks_it_again(content: Content) -> None:
    chat = started(content)
    chat.send("could this be a clot?")
    turn = chat.send(ChoiceSelected("calf", "swollen"))
    assert turn.replies[0].parts[0].key == "answer.stale"
    assert asked(turn)


def test_a_safety_button_with_nothing_pending_is_stale(content: Content) -> None:
    chat = started(content)
    turn = chat.send(ChoiceSelected(SAFETY_NODE, "yes"))
    assert turn.replies[0].parts[0].key == "answer.stale"
    assert [r.node for r in turn.replies][-1] == "calf" and not escalated(turn)


def test_help_re_asks_the_safety_question_and_stop_drops_it(content: Content) -> None:
    chat = started(content)
    chat.send("could this be a clot?")
    assert asked(chat.send(CommandReceived("help")))
    chat.send(CommandReceived("stop"))
    assert chat.session.safety_check is None


def test_a_check_in_waits_while_a_safety_question_is_pending(content: Content) -> None:
    chat = started(content)
    chat.session = chat.session.model_copy(
        update={"status": SessionStatus.completed, "node": None, "level": "soon", "checkins_scheduled": 1}
    )
    chat.send("could this be a clot?")
    turn = chat.send(CheckInDue(1))
    assert turn.replies == () and chat.session.safety_check is not None


def test_an_urgent_interrupt_asks_about_an_emergency_sign_only_asked_about(content: Content) -> None:
    chat = started(content)
    turn = chat.send("my calf is swollen, could this be a clot in my lung?")
    assert [r.kind for r in turn.replies] == ["interrupt", "confirm"]
    assert chat.text(turn).startswith("Get seen today")
    assert chat.session.status is SessionStatus.escalated and chat.session.interrupt == "urgent"
    assert chat.session.safety_check is not None and chat.session.safety_check.flags == ("short_of_breath",)
    turn = chat.send("yes")
    assert chat.text(turn).startswith("Call 911 now.") and chat.session.interrupt == "emergency"


# --- a sign taken back ------------------------------------------------------------------------------------


def test_a_sign_taken_back_gets_one_question_and_a_clear_no_resumes_where_it_paused(content: Content) -> None:
    chat = started(content)
    chat.send("I'm short of breath")
    assert chat.session.status is SessionStatus.escalated
    turn = chat.send("I'm not short of breath, I was quoting the nurse")
    assert asked(turn).parts[0].key == "withdrawal.lead"
    assert chat.session.safety_check is not None and chat.session.safety_check.kind == "withdrawal"
    turn = chat.send("no")
    assert [r.node for r in turn.replies] == ["calf"]
    assert chat.session.status is SessionStatus.active and chat.session.node == "calf"
    assert chat.session.red_flags == () and chat.session.level is None and chat.session.interrupt is None
    assert "withdrawn" in audits(turn)


@pytest.mark.parametrize("answer", ["yes", "not sure", "hmm I don't know what to say"])
def test_anything_but_a_clear_no_keeps_the_advice(content: Content, answer: str) -> None:
    chat = started(content)
    chat.send("I'm short of breath")
    chat.send("I'm not short of breath, I was quoting the nurse")
    turn = chat.send(answer)
    assert turn.replies[0].kind == "interrupt"
    assert chat.text(turn).startswith("To be safe, please follow this advice:\nCall 911 now.")
    assert chat.session.status is SessionStatus.escalated and chat.session.safety_check is None
    assert not escalated(turn)


def test_only_the_signs_that_interrupted_can_be_taken_back(content: Content) -> None:
    chat = started(content)
    chat.send("I'm short of breath and I coughed up blood")
    turn = chat.send("I'm not short of breath")
    assert chat.session.safety_check is None
    assert turn.replies[0].parts[0].key == "after.interrupt"


def test_a_crisis_cannot_be_taken_back(content: Content) -> None:
    chat = started(content)
    chat.send("I want to kill myself")
    chat.send("I'm not suicidal")
    assert chat.session.safety_check is None and chat.session.status is SessionStatus.escalated


# --- the interrupt's wording ------------------------------------------------------------------------------


def test_body_and_crisis_in_one_reply_call_now_first(content: Content) -> None:
    chat = started(content)
    turn = chat.send("I took all my pills because I want to die")
    assert len(turn.replies) == 1
    keys = [p.key for p in turn.replies[0].parts]
    assert keys[:5] == [
        "emergency.action",
        "interrupt.reason",
        "emergency.dont_drive",
        "crisis.message",
        "crisis.line.call_or_text",
    ]
    assert turn.replies[0].call == "911"
    assert [e.level for e in turn.effects if isinstance(e, Escalate)] == ["emergency"]


@pytest.mark.parametrize(
    ("country", "line"),
    [
        ("US", "You can also call or text 988"),
        ("GB", "You can also call 116 123 at any time"),
        ("AU", "You can also call 13 11 14 at any time"),
        ("NZ", "You can also call or text 1737"),
        ("ES", "You can also call 024"),
    ],
)
def test_crisis_lines_are_worded_as_they_are_reached(content: Content, country: str, line: str) -> None:
    chat = started(content, country=country)
    assert line in chat.text(chat.send("I want to end my life"))


ENGLISH = re.compile(r"\b(call|text|or|now|you|your|the|and|can|also|because)\b", re.IGNORECASE)


@pytest.mark.parametrize("country", ["US", "ES", "MX"])
def test_a_spanish_crisis_and_emergency_reply_holds_no_english(content: Content, country: str) -> None:
    chat = started(content, country=country, locale="es")
    text = chat.text(chat.send("me tomé todas las pastillas, quiero morirme"))
    assert "Llame al" in text and "(call or text)" not in text
    assert not ENGLISH.findall(text), text


def test_the_safety_question_is_asked_in_the_conversation_s_language(content: Content) -> None:
    chat = started(content, locale="es")
    turn = chat.send("¿y si me empieza a faltar el aire?")
    assert chat.text(turn) == "¿Le falta el aire ahora mismo, o le cuesta respirar?"
    assert [content.catalog.render(c.label, "es") for c in asked(turn).choices] == ["Sí", "No", "No sé"]


def test_the_engine_needs_the_red_flag_screen(content: Content) -> None:
    bare = Language(Lexicon((), {}))
    with pytest.raises(ValueError, match="red-flag"):
        advance(content.intake, new_session(content.intake, NOW), MessageReceived("hi"), NOW, language=bare)


def test_no_flow_can_use_the_safety_question_s_node_id(content: Content) -> None:
    assert not re.fullmatch(r"[a-z][a-z0-9_]*", SAFETY_NODE)
    assert all(SAFETY_NODE not in flow.nodes for flow in content.flows.values())
