"""The engine: red flags first, commands, answers, outcomes and check-ins, with the real flow and catalogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.content.catalog import Catalog
from bot.content.loader import Content
from bot.triage.effects import CancelCheckIns, DeleteData, Escalate, ScheduleCheckIn, SendReply
from bot.triage.engine import Policy, Turn, advance, new_session
from bot.triage.events import ChoiceSelected, CommandReceived, Event, MessageReceived
from bot.triage.findings import Level
from bot.triage.session import Session, SessionStatus

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class Chat:
    """Drives the engine the way the shell does, keeping the session between turns."""

    def __init__(self, content: Content, country: str | None = "US", locale: str = "en") -> None:
        self.content = content
        self.session = new_session(content.intake, NOW, locale, country)
        self.turns: list[Turn] = []

    def send(self, event: Event | str) -> Turn:
        if isinstance(event, str):
            event = MessageReceived(event)
        policy = Policy(countries=self.content.countries)
        turn = advance(self.content.intake, self.session, event, NOW, policy=policy, language=self.content.language)
        self.session = turn.session
        self.turns.append(turn)
        return turn

    def text(self, turn: Turn) -> str:
        catalog: Catalog = self.content.catalog
        return "\n".join(catalog.render(p, self.session.locale) for r in turn.replies for p in r.parts)


def question(turn: Turn) -> str | None:
    asked = [r.node for r in turn.replies if r.kind == "question"]
    return asked[-1] if asked else None


def started(content: Content, **kw: str) -> Chat:
    chat = Chat(content, **kw)
    chat.send("hello")
    return chat


def test_first_message_gets_welcome_with_disclaimer_and_first_question(content: Content) -> None:
    chat = Chat(content)
    turn = chat.send("my knee hurts")
    assert question(turn) == "emergency_signs"
    assert "not a diagnosis" in chat.text(turn)
    assert chat.session.disclaimer_shown


def test_disclaimer_is_shown_once_per_conversation(content: Content) -> None:
    chat = started(content)
    texts = [chat.text(chat.send(a)) for a in ("6", "4", "30", "4", "3", "5", "4", "2 weeks", "1", "3")]
    assert not any("not a diagnosis" in t for t in texts)


def test_chest_pain_typed_mid_flow_interrupts_before_the_next_question(content: Content) -> None:
    chat = started(content)
    chat.send("6")
    turn = chat.send("actually I have crushing chest pain now")
    assert question(turn) is None
    first = turn.replies[0]
    assert first.kind == "interrupt" and first.call == "911"
    assert chat.text(turn).startswith("Call 911 now.")
    assert chat.session.status is SessionStatus.escalated
    assert any(isinstance(e, Escalate) and e.level == "emergency" for e in turn.effects)


def test_emergency_number_follows_the_country(content: Content) -> None:
    chat = started(content, country="GB")
    turn = chat.send("I can't breathe")
    assert chat.text(turn).startswith("Call 999 now.")


@pytest.mark.parametrize("status_words", [("stop",), ("6", "4", "30", "4", "3", "5", "4", "1 day", "3")])
def test_red_flags_are_screened_after_stop_and_after_the_outcome(content: Content, status_words: tuple[str]) -> None:
    chat = started(content)
    for word in status_words:
        chat.send(word)
    assert chat.session.status in (SessionStatus.stopped, SessionStatus.completed)
    turn = chat.send("coughing up blood")
    assert turn.replies and turn.replies[0].kind == "interrupt"


def test_clot_signs_give_the_clot_message_not_the_emergency_number(content: Content) -> None:
    chat = started(content)
    turn = chat.send("my left calf is swollen and hot, much bigger than the right")
    text = chat.text(turn)
    assert text.startswith("Get seen today")
    assert "blood clot" in text
    assert any(isinstance(e, Escalate) and e.level == "urgent" for e in turn.effects)


def test_crisis_message_gives_crisis_line_and_emergency_number(content: Content) -> None:
    chat = started(content)
    text = chat.text(chat.send("I want to kill myself"))
    assert "911" in text and "988" in text


def test_answers_by_number_word_and_label(content: Content) -> None:
    chat = started(content)
    assert question(chat.send("None of these")) == "calf"
    assert question(chat.send("no")) == "age"
    assert question(chat.send("30")) == "knee_swelling"
    assert question(chat.send("4")) == "start_how"
    assert question(chat.send("gradually, over days or weeks")) == "mechanical"


def test_unclear_answer_is_asked_again_politely(content: Content) -> None:
    chat = started(content)
    turn = chat.send("banana")
    assert "didn't catch" in chat.text(turn)
    assert question(turn) == "emergency_signs"
    assert chat.session.answers == ()


def test_a_yes_to_a_multi_choice_question_is_not_guessed(content: Content) -> None:
    chat = started(content)
    assert question(chat.send("yes")) == "emergency_signs"


def test_back_undoes_the_last_answer(content: Content) -> None:
    chat = started(content)
    chat.send("6")
    chat.send("yes")
    assert chat.session.node == "clot_risk"
    turn = chat.send("back")
    assert question(turn) == "calf"
    assert [a.node for a in chat.session.answers] == ["emergency_signs"]


def test_stale_button_is_refused_and_the_current_question_repeated(content: Content) -> None:
    chat = started(content)
    chat.send(ChoiceSelected("emergency_signs", "none"))
    turn = chat.send(ChoiceSelected("emergency_signs", "breathing"))
    assert question(turn) == "calf"
    assert chat.session.status is SessionStatus.active
    assert "earlier question" in chat.text(turn)


def test_language_switch_re_asks_in_spanish(content: Content) -> None:
    chat = started(content)
    turn = chat.send("idioma")
    assert chat.session.locale == "es"
    assert question(turn) == "emergency_signs"
    assert chat.text(turn) != ""
    assert content.catalog.raw("intake.emergency_signs.prompt", "es") in chat.text(turn)
    assert question(chat.send("no sé")) == "calf"


def test_stop_cancels_check_ins_and_silences_ordinary_messages(content: Content) -> None:
    chat = started(content)
    turn = chat.send("STOP")
    assert any(isinstance(e, CancelCheckIns) for e in turn.effects)
    assert "911" in chat.text(turn)
    assert chat.send("hello?").effects == ()


def test_stop_then_start_begins_again(content: Content) -> None:
    chat = started(content)
    chat.send("stop")
    assert chat.send("ordinary words").effects == ()
    assert question(chat.send("START")) == "emergency_signs"


def test_delete_asks_the_shell_to_remove_everything(content: Content) -> None:
    chat = started(content)
    turn = chat.send(CommandReceived("delete"))
    assert any(isinstance(e, DeleteData) for e in turn.effects)
    assert "deleted" in chat.text(turn)


def test_session_on_a_node_that_no_longer_exists_restarts_politely(content: Content) -> None:
    gone = new_session(content.intake, NOW).model_copy(update={"node": "removed_node", "disclaimer_shown": True})
    turn = advance(content.intake, gone, MessageReceived("2"), NOW, language=content.language)
    assert question(turn) == "emergency_signs"
    assert turn.replies[0].parts[0].key == "flow.updated"


def self_care_answers() -> list[str]:
    return ["6", "4", "30", "4", "3", "5", "4", "1 week", "1", "3"]


def test_self_care_outcome_has_action_tips_warning_signs_and_check_ins(content: Content) -> None:
    chat = started(content)
    for answer in self_care_answers()[:-1]:
        chat.send(answer)
    turn = chat.send(self_care_answers()[-1])
    assert chat.session.status is SessionStatus.completed
    assert chat.session.assessment is not None and chat.session.assessment.level is Level.self_care
    text = chat.text(turn)
    assert text.startswith("This sounds like something you can look after at home.")
    assert "Call 911 at once if" in text
    scheduled = [e for e in turn.effects if isinstance(e, ScheduleCheckIn)]
    assert [e.due_at - NOW for e in scheduled] == [timedelta(hours=48), timedelta(days=7)]
    assert not any(isinstance(e, Escalate) for e in turn.effects)


def test_choosing_an_emergency_sign_ends_the_questions_with_the_emergency_outcome(content: Content) -> None:
    chat = started(content)
    turn = chat.send("1")
    assert chat.session.assessment is not None and chat.session.assessment.level is Level.emergency
    assert chat.text(turn).startswith("Call 911 now.")
    assert [e.due_at - NOW for e in turn.effects if isinstance(e, ScheduleCheckIn)] == [timedelta(hours=1)]
    assert any(isinstance(e, Escalate) for e in turn.effects)


def test_check_in_schedule_comes_from_policy(content: Content) -> None:
    policy = Policy(checkins={Level.emergency: (timedelta(minutes=30),)})
    session = started(content).session
    turn = advance(content.intake, session, MessageReceived("1"), NOW, language=content.language, policy=policy)
    assert [e.due_at - NOW for e in turn.effects if isinstance(e, ScheduleCheckIn)] == [timedelta(minutes=30)]


def test_not_sure_about_an_emergency_sign_still_means_be_seen_today(content: Content) -> None:
    chat = started(content)
    for answer in ["not sure", "4", "30", "4", "3", "5", "4", "1 day", "3"]:
        chat.send(answer)
    assert chat.session.assessment is not None
    assert chat.session.assessment.level is Level.urgent


def test_numbers_out_of_range_are_asked_again(content: Content) -> None:
    chat = started(content)
    for answer in ["6", "4", "30", "4", "3", "5", "4", "2 days"]:
        chat.send(answer)
    assert chat.session.node == "pain"
    turn = chat.send("11")
    assert question(turn) == "pain"
    assert "number" in chat.text(turn)


def test_every_reply_is_a_send_reply_with_known_keys(content: Content) -> None:
    chat = started(content)
    for answer in self_care_answers():
        turn = chat.send(answer)
        for reply in turn.replies:
            assert isinstance(reply, SendReply)
            for part in reply.parts:
                assert content.catalog.has(part.key, "en") and content.catalog.has(part.key, "es")


def test_new_session_defaults(content: Content) -> None:
    session: Session = new_session(content.intake, NOW, "fr", None)
    assert session.locale == "en" and session.node == content.intake.start
