"""The engine with free text (#14): readings acted on, no dead ends, what people volunteer kept, the language of the
first message, command words in context; with the real flows and catalogs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.render import render_sms, render_telegram
from bot.content.loader import Content
from bot.triage.effects import SendReply, Text
from bot.triage.engine import Policy, Turn, advance, new_session
from bot.triage.events import CheckInDue, ChoiceSelected, Event, MessageReceived
from bot.triage.findings import Findings, Level
from bot.triage.flow import FlowDefinition
from bot.triage.session import Answer, Session, SessionStatus

NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday


class Chat:
    def __init__(self, content: Content, locale: str = "en") -> None:
        self.content = content
        self.session = new_session(content.intake, NOW, locale, "US")

    def send(self, event: Event | str) -> Turn:
        event = MessageReceived(event) if isinstance(event, str) else event
        policy = Policy(countries=self.content.countries)
        turn = advance(
            self.content.intake,
            self.session,
            event,
            NOW,
            language=self.content.language,
            policy=policy,
            checkin=self.content.checkin,
        )
        self.session = turn.session
        return turn

    def keys(self, turn: Turn) -> list[str]:
        return [p.key for r in turn.replies for p in r.parts]

    def text(self, turn: Turn) -> str:
        return "\n".join(self.content.catalog.render(p, self.session.locale) for r in turn.replies for p in r.parts)


def asked(turn: Turn) -> str | None:
    nodes = [r.node for r in turn.replies if r.node]
    return nodes[-1] if nodes else None


def at(content: Content, node: str, *answers: str) -> Chat:
    """A conversation begun ("hello") and answered until `node` is asked."""
    chat = Chat(content)
    chat.send("hello")
    for answer in answers:
        chat.send(answer)
    assert chat.session.node == node
    return chat


TO_AGE = ("none", "no")  # emergency_signs, calf


# --- no dead ends ------------------------------------------------------------------------------------------------


def test_a_reply_not_understood_says_what_the_question_takes_in_the_channels_own_terms(content: Content) -> None:
    chat = at(content, "calf", "none")
    turn = chat.send("banana")
    (reply,) = turn.replies
    assert reply.parts[0].key == "answer.not_understood" and asked(turn) == "calf"
    sms = "\n".join(render_sms(reply, content.catalog, "en"))
    telegram = render_telegram(reply, content.catalog, "en").text
    assert "number" in sms.split("\n")[0] and "tap" not in sms
    assert "tap" in telegram and "number" not in telegram
    assert chat.session.answers == (Answer(node="emergency_signs", value="none"),)


def test_the_second_time_the_choices_come_with_not_sure_and_human_and_the_third_notes_not_sure(
    content: Content,
) -> None:
    chat = at(content, "calf", "none")
    chat.send("banana")
    second = chat.send("potato")
    assert chat.keys(second)[0] == "answer.again" and asked(second) == "calf"
    words = "\n".join(render_sms(second.replies[0], content.catalog, "en"))
    assert "NOT SURE" in words and "HUMAN" in words and "Not sure" in words  # and the choices, "Not sure" among them
    third = chat.send("turnip")
    assert chat.keys(third)[0] == "answer.noted" and '"Not sure"' in chat.text(third)
    assert chat.session.answers[-1] == Answer(node="calf", value="unsure")
    assert asked(third) == "clot_risk"  # a calf not sure of is asked about clot risks: the safer side


def test_help_explains_the_question_and_counts_as_no_answer(content: Content) -> None:
    chat = at(content, "age", *TO_AGE)
    for text in ("?", "what do you mean", "help"):
        chat = at(content, "age", *TO_AGE)
        turn = chat.send(text)
        assert chat.keys(turn)[:2] == ["intake.age.help", "intake.age.prompt"], text
        assert chat.session.node == "age" and chat.session.unclear == () and len(chat.session.answers) == 2


def test_no_question_is_asked_more_than_three_times_in_a_row(content: Content) -> None:
    chat = at(content, "knee_swelling", *TO_AGE, "40")
    nodes = [asked(chat.send(text)) for text in ("?", "??", "what")]
    assert nodes == ["knee_swelling", "knee_swelling", "start_how"]
    assert chat.session.answers[-1] == Answer(node="knee_swelling", value="unsure")


def test_a_vague_pain_is_asked_for_a_number_once(content: Content) -> None:
    chat = at(content, "pain", *TO_AGE, "40", "none", "gradually", "none", "none", "2 days")
    first = chat.send("really bad")
    assert chat.keys(first)[0] == "answer.score_vague" and asked(first) == "pain"
    second = chat.send("terrible")
    assert chat.keys(second)[0] == "answer.noted"
    assert chat.session.status is SessionStatus.completed
    assert chat.session.answers[-1] == Answer(node="pain", value="unsure")


def test_out_of_range_gets_the_range(content: Content) -> None:
    chat = at(content, "age", *TO_AGE)
    turn = chat.send("150")
    assert chat.keys(turn)[0] == "answer.age_range"
    assert "years, like 45" in chat.text(turn)


def test_a_check_in_nobody_can_answer_records_worse(content: Content, capsys: pytest.CaptureFixture[str]) -> None:
    flow: FlowDefinition = content.checkin
    assert flow.nodes["how"].fallback_choice() == "worse"
    chat = at(content, "pain", *TO_AGE, "40", "none", "gradually", "none", "none", "2 days")
    chat.send("3")
    assert chat.session.status is SessionStatus.completed
    chat.send(CheckInDue(1))
    assert chat.session.flow_id == "checkin"
    for text in ("blue", "green"):
        assert asked(chat.send(text)) == "how"
    turn = chat.send("purple")
    assert "answer.noted" in chat.keys(turn) and "checkin.worse" in chat.keys(turn)


# --- readings ----------------------------------------------------------------------------------------------------


def test_every_value_of_a_several_answer_is_kept(content: Content) -> None:
    chat = at(content, "mechanical", *TO_AGE, "40", "none", "gradually")
    chat.send("it locks and gives way")
    assert chat.session.answers[-1] == Answer(node="mechanical", value="catches", also=("gives_way",))


def test_several_at_a_question_that_takes_one_asks_which_with_the_named_choices(content: Content) -> None:
    chat = at(content, "course", *TO_AGE, "40", "none", "gradually", "none", "none", "2 weeks")
    turn = chat.send("1 or 3")
    assert chat.keys(turn)[0] == "answer.which_of" and asked(turn) == "course"
    assert "Getting better or Getting worse" in chat.text(turn)


def test_a_plain_yes_to_a_list_asks_which_one(content: Content) -> None:
    chat = at(content, "knee_swelling", *TO_AGE, "40")
    turn = chat.send("yes")
    assert chat.keys(turn)[0] == "answer.which_one" and asked(turn) == "knee_swelling"


def test_a_button_at_a_question_volunteered_to_keeps_what_was_said(content: Content) -> None:
    chat = Chat(content)
    chat.send("I'm on the pill and my knee hurts")
    chat.send("none")
    chat.send(ChoiceSelected("calf", "tender"))
    chat.send(ChoiceSelected("clot_risk", "none"))
    findings, _ = content.intake.findings(chat.session.answers)
    assert findings.hormone_therapy_or_pregnancy is True and findings.prior_clot is False


# --- what people volunteer ---------------------------------------------------------------------------------------


def test_the_first_message_keeps_what_it_says_and_skips_the_questions_it_answers(content: Content) -> None:
    chat = Chat(content)
    first = chat.send("I'm 34 and fell off my bike 3 days ago")
    assert chat.keys(first)[0] == "welcome" and asked(first) == "emergency_signs"
    assert chat.session.volunteered == Findings(age=34, trauma=True, duration_days=3)
    chat.send("none")
    turn = chat.send("no")  # the calf: age and how it started are known
    assert asked(turn) == "knee_swelling"
    assert [a.node for a in chat.session.answers] == ["emergency_signs", "calf", "age"]
    assert asked(chat.send("none")) == "injury_signs"  # an injury: "how did it start" is skipped too
    assert chat.session.answers[-1] == Answer(node="start_how", value="injury")


def test_a_volunteered_risk_factor_is_said_back_and_kept_when_nothing_else_applies(content: Content) -> None:
    chat = Chat(content)
    chat.send("I'm 32 weeks pregnant, my knee hurts at the back")
    chat.send("none")
    turn = chat.send("my calf is a bit sore when I press it actually")
    if asked(turn) == "_safety":  # the screen may ask about a clot first: not the subject here
        return
    assert asked(turn) == "clot_risk"
    assert chat.keys(turn)[0] == "said.kept" and "pregnant" in chat.text(turn)
    chat.send("none of the others")
    findings, _ = content.intake.findings(chat.session.answers)
    assert findings.hormone_therapy_or_pregnancy is True


@pytest.mark.parametrize(
    "text",
    ["my sister had a clot", "no swelling in my knee", "what if I'm pregnant?", "I fell 20 years ago", "no injury"],
)
def test_what_is_denied_supposed_past_or_someone_elses_is_no_finding(content: Content, text: str) -> None:
    chat = Chat(content)
    chat.send(text)
    assert chat.session.volunteered == Findings()


def test_a_finding_taken_back_is_dropped(content: Content) -> None:
    chat = Chat(content)
    chat.send("I'm on the pill")
    assert chat.session.volunteered.hormone_therapy_or_pregnancy is True
    chat.send("sorry, I'm not on the pill, I stopped it")
    assert chat.session.volunteered.hormone_therapy_or_pregnancy is None


def test_a_reply_that_volunteers_but_does_not_answer_is_thanked_not_misunderstood(content: Content) -> None:
    chat = at(content, "emergency_signs")
    turn = chat.send("I'm 52 by the way")
    assert chat.keys(turn)[0] == "said.noted" and asked(turn) == "emergency_signs"
    assert chat.session.unclear == () and chat.session.volunteered.age == 52


def test_a_reply_in_words_the_question_does_not_know_answers_it_with_its_finding(content: Content) -> None:
    chat = at(content, "start_how", *TO_AGE, "40", "none")
    chat.send("came off my horse")
    assert chat.session.answers[-1] == Answer(node="start_how", value="injury")


# --- language ----------------------------------------------------------------------------------------------------


def test_a_first_message_in_spanish_switches_to_spanish_and_says_how_to_go_back(content: Content) -> None:
    chat = Chat(content)
    turn = chat.send("hola, me duele detrás de la rodilla")
    assert chat.session.locale == "es"
    assert chat.keys(turn)[:2] == ["language.detected", "welcome"]
    assert "INGLÉS" in chat.text(turn)


def test_a_first_message_in_english_to_a_spanish_default_switches_to_english(content: Content) -> None:
    chat = Chat(content, locale="es")
    turn = chat.send("hi, my knee hurts at the back")
    assert chat.session.locale == "en" and "ESPAÑOL" in chat.text(turn)


def test_the_welcome_offers_the_other_language(content: Content) -> None:
    assert "ESPAÑOL" in content.catalog.raw("welcome", "en")
    assert "INGLÉS" in content.catalog.raw("welcome", "es")


def test_only_the_first_message_chooses_the_language(content: Content) -> None:
    chat = Chat(content, locale="es")
    chat.send("hola")
    chat.send("none of these")
    assert chat.session.locale == "es"


@pytest.mark.parametrize(
    ("text", "locale"), [("¿hablas español?", "es"), ("in English please", "en"), ("english?", "en")]
)
def test_asking_for_a_language_works_at_any_point(content: Content, text: str, locale: str) -> None:
    chat = at(content, "age", *TO_AGE)
    chat.session = chat.session.model_copy(update={"locale": "es" if locale == "en" else "en"})
    turn = chat.send(text)
    assert chat.session.locale == locale and asked(turn) == "age"


# --- command words in context --------------------------------------------------------------------------------------


def test_a_word_that_answers_the_question_is_the_answer_not_a_command(content: Content) -> None:
    chat = at(content, "pain", *TO_AGE, "40", "none", "gradually", "none", "none", "2 days")
    turn = chat.send("alto")  # "high": a pain, not "stop"
    assert chat.session.status is SessionStatus.active and chat.keys(turn)[0] == "answer.score_vague"
    chat.send("stop")
    assert chat.session.status is SessionStatus.stopped


def test_cancel_inside_a_sentence_is_no_stop(content: Content) -> None:
    chat = at(content, "age", *TO_AGE)
    chat.send("45, I had to cancel my holiday")
    assert chat.session.status is SessionStatus.active and chat.session.answers[-1] == Answer(node="age", value="45")


def test_commands_work_when_no_question_is_pending(content: Content) -> None:
    chat = at(content, "age", *TO_AGE)
    chat.session = chat.session.model_copy(update={"status": SessionStatus.completed, "node": None})
    chat.send("restart")
    assert chat.session.node == "emergency_signs" and chat.session.answers == ()


# --- the mechanism ---------------------------------------------------------------------------------------------


def test_a_question_without_a_not_sure_answer_must_name_its_fallback() -> None:
    with pytest.raises(ValueError, match="fallback"):
        FlowDefinition.model_validate(
            {
                "id": "f",
                "version": 1,
                "start": "q",
                "nodes": {
                    "q": {"kind": "choice", "choices": [{"id": "a"}, {"id": "b"}], "next": "end"},
                    "end": {"kind": "assessment"},
                },
            }
        )


def test_the_catalog_words_a_message_for_the_channel_and_falls_back_to_the_plain_one(content: Content) -> None:
    catalog = content.catalog
    said = Text("answer.not_understood")
    assert catalog.render(said, "en", "telegram") == catalog.raw("answer.not_understood.telegram", "en")
    assert catalog.render(said, "en", "sms") == catalog.raw("answer.not_understood.sms", "en")
    assert catalog.render(said, "en") == catalog.raw("answer.not_understood", "en")
    assert catalog.render(Text("said.noted"), "es", "telegram") == catalog.raw("said.noted", "es")


def test_every_question_has_a_help_text_in_every_locale(content: Content) -> None:
    for flow in content.flows.values():
        for node_id, node in flow.nodes.items():
            if node.kind != "assessment":
                for locale in ("en", "es"):
                    assert content.catalog.has(flow.help_key(node_id), locale)


def test_a_session_stored_before_these_fields_still_loads() -> None:
    stored = (
        '{"v":1,"flow_id":"intake","flow_version":2,"node":"calf","disclaimer_shown":true,'
        '"started_at":"2026-11-02T10:00:00Z","updated_at":"2026-11-02T10:00:00Z"}'
    )
    session = Session.model_validate_json(stored)
    assert session.volunteered == Findings() and session.times_asked == 0 and session.locale_set is False


def test_the_level_of_a_volunteered_skip_is_the_level_of_the_answer(content: Content) -> None:
    """Skipping "can you take 4 steps" because the person said they can't gives the Ottawa level, as the answer
    would."""
    chat = Chat(content)
    chat.send("twisted my knee yesterday, I'm 30, can't put any weight on it at all")
    for text in ("none", "no", "none", "none"):
        turn = chat.send(text)
    assert asked(turn) == "mechanical"
    assert Answer(node="walk", value="no") in chat.session.answers
    reply: SendReply = turn.replies[0]
    assert reply.parts[0].key == "said.kept"  # "You told me you can't put weight on that leg, so I have noted that."
    for text in ("none", "none", "7"):
        chat.send(text)
    assert chat.session.level is Level.urgent
