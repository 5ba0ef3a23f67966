"""Free text to a reading of the question: choices, several, which one, help, unclear and commands in context.
(tests/unit/test_answers.py runs the suite of answers typed the way people write them.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.content.loader import Content
from bot.triage.flow import FlowDefinition
from bot.triage.language import Language
from bot.triage.lexicon import Lexicon
from bot.triage.matching import SHORT, read_answer, read_command
from bot.triage.reading import Answered, CommandWord, Help, Several, Unclear, WhichOne
from bot.triage.session import Answer, Session

NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def read(content: Content, where: str, text: str) -> object:
    flow_id, node = where.split(".")
    return read_answer(content.language, content.flows[flow_id], node, text, NOW)


@pytest.mark.parametrize(
    ("node", "text", "expected"),
    [
        ("calf", "1", "swollen"),
        ("calf", "y", "swollen"),
        ("calf", "Yes!", "swollen"),
        ("calf", "sí", "swollen"),
        ("walk", "si", "yes"),
        ("walk", "yes", "yes"),
        ("calf", "nope", "no"),
        ("calf", "3", "tender"),
        ("calf", "4", "no"),
        ("calf", "not sure", "unsure"),
        ("calf", "no sé", "unsure"),
        ("calf", "NO SE", "unsure"),
        ("calf", "6", None),
        ("calf", "0", None),
        ("emergency_signs", "none of these", "none"),
        ("emergency_signs", "no", "none"),
        ("emergency_signs", "ninguna", "none"),
        ("emergency_signs", "yes", None),
        ("emergency_signs", "coughing up blood", "blood"),
        ("mechanical", "it gives way", "gives_way"),
        ("start_how", "gradually", "gradual"),
        ("pain", "7", "7"),
        ("pain", "about a 6 out of 10", "6"),
        ("pain", "11", None),
        ("age", "I'm 45", "45"),
        ("age", "not sure", "unsure"),
        ("duration", "3 days", "3"),
        ("duration", "2 weeks", "14"),
        ("duration", "12 hours", "0.5"),
        ("duration", "dos semanas", "14"),
        ("duration", "since yesterday", "1"),
        ("duration", "3 días", "3"),
        ("duration", "half a day", "0.5"),
        ("duration", "30 min", "0.021"),
        ("duration", "1 month", "30"),
    ],
)
def test_the_first_value_or_no_answer(content: Content, node: str, text: str, expected: str | None) -> None:
    reading = read(content, f"intake.{node}", text)
    assert (reading.values[0] if isinstance(reading, Answered) else None) == expected


def test_a_choice_label_in_either_language_is_that_choice(content: Content) -> None:
    for locale in ("en", "es"):
        for node_id, node in content.intake.nodes.items():
            for choice in node.choices:
                label = content.catalog.raw(content.intake.label_key(node_id, choice), locale)
                reading = read(content, f"intake.{node_id}", label)
                assert isinstance(reading, Answered) and reading.values[0] == choice.id, (locale, node_id, label)


def test_several_at_a_question_that_keeps_all(content: Content) -> None:
    assert read(content, "intake.mechanical", "it locks and gives way") == Answered(("catches", "gives_way"))
    assert read(content, "intake.mechanical", "1, 4") == Answered(("stuck", "gives_way"))
    assert read(content, "intake.mechanical", "1,3") == Answered(("stuck", "catches"))  # read as a decimal first


def test_several_at_a_question_that_takes_the_most_serious(content: Content) -> None:
    reading = read(content, "intake.emergency_signs", "3 and 1")
    assert reading == Answered(("breathing",), named=("breathing", "blood"))


def test_several_where_the_flow_does_not_say_asks_which(content: Content) -> None:
    assert read(content, "intake.course", "1 or 3") == Several(("better", "worse"))
    assert read(content, "intake.walk", "1 2") == Several(("yes", "no"))


def test_a_plain_yes_to_a_list_asks_which_one(content: Content) -> None:
    assert read(content, "intake.knee_swelling", "yes") == WhichOne()
    assert read(content, "intake.knee_swelling", "yeah the second one") == Answered(("lump",))
    assert read(content, "intake.knee_swelling", "yes, swollen") == Answered(("swollen",))


def test_a_question_mark_is_help_never_not_sure(content: Content) -> None:
    for text in ("?", "??", "¿?", "what?", "what do you mean", "help", "no entiendo", "¿qué significa?"):
        assert read(content, "intake.emergency_signs", text) == Help(), text
    assert read(content, "intake.pain", "?") == Help()


def test_a_denied_choice_is_a_no_and_a_doubted_one_is_not_sure(content: Content) -> None:
    assert read(content, "intake.calf", "it isn't swollen") == Answered(("no",))
    assert read(content, "intake.calf", "no swelling or redness") == Answered(("no",))
    assert read(content, "intake.calf", "not swollen but it's red") == Answered(("warm_red",))
    assert read(content, "intake.calf", "not sure if it's swollen") == Answered(("unsure",))
    assert read(content, "intake.calf", "not sure, but it looks swollen") == Answered(("swollen",))


def test_what_is_named_wins_over_a_no_the_safer_side(content: Content) -> None:
    assert read(content, "intake.emergency_signs", "no, but my foot is cold and pale") == Answered(("foot",))


@pytest.mark.parametrize(
    ("description", "where", "text", "expected"),
    [
        ("a denial stops at 'and'", "intake.emergency_signs", "no energy and short of breath", "breathing"),
        ("una negación se corta en la 'y'", "intake.fever", "no tengo hambre y me siento fatal", "unwell"),
        (
            "a doubted sign that ends the questions is kept",
            "intake.emergency_signs",
            "not sure if i fainted",
            "fainted",
        ),
        ("a hedge is no denial", "intake.emergency_signs", "maybe a little short of breath", "breathing"),
        ("a denial with 'problems with'", "intake.emergency_signs", "no problems with my breathing", "none"),
        ("a denial carried by 'or'", "intake.fever", "no fever or chills", "no"),
        ("not feeling fine is feeling unwell", "intake.fever", "i don't feel fine", "unwell"),
        ("no me siento bien", "intake.fever", "no me siento bien", "unwell"),
    ],
)
def test_a_reading_never_plays_down_a_warning_sign(
    content: Content, description: str, where: str, text: str, expected: str
) -> None:
    assert read(content, where, text) == Answered((expected,)), description


@pytest.mark.parametrize("text", ["not normal", "they're not the same", "no está bien", "no se ven iguales"])
def test_a_denied_no_is_no_answer(content: Content, text: str) -> None:
    """ "Not normal" says something is wrong, not what: ask again rather than record a no."""
    assert read(content, "intake.calf", text) == Unclear("not_understood", "answer.not_understood")


def test_numbers_that_fail_say_how(content: Content) -> None:
    assert read(content, "intake.age", "150") == Unclear("out_of_range", "answer.age_range")
    assert read(content, "intake.age", "he's in his 70s") == Unclear("vague", "answer.age_vague")
    assert read(content, "intake.pain", "really bad") == Unclear("vague", "answer.score_vague")
    assert read(content, "intake.pain", "15") == Unclear("out_of_range", "answer.score_range")
    assert read(content, "intake.duration", "for ages") == Unclear("vague", "answer.days_vague")
    assert read(content, "intake.duration", "banana") == Unclear("not_understood", "answer.days_invalid")
    assert read(content, "intake.emergency_signs", "banana") == Unclear("not_understood", "answer.not_understood")


def test_durations_count_back_from_the_conversations_clock(content: Content) -> None:
    assert read(content, "intake.duration", "since Monday") == Answered(("2",))  # NOW is a Wednesday
    assert read(content, "intake.duration", "since wednesday") == Answered(("7",))
    later = datetime(2026, 11, 6, 10, 0, tzinfo=UTC)  # Friday
    reading = read_answer(content.language, content.intake, "duration", "since Monday", later)
    assert reading == Answered(("4",))


def test_a_year_of_birth_is_counted_from_the_clock(content: Content) -> None:
    assert read(content, "intake.age", "born in 1980") == Answered(("46",))


def test_a_word_that_answers_the_question_is_no_command(content: Content) -> None:
    assert read(content, "intake.pain", "alto") == Unclear("vague", "answer.score_vague")
    assert read(content, "intake.emergency_signs", "alto") == CommandWord("stop")
    assert read(content, "intake.emergency_signs", "STOP") == CommandWord("stop")
    assert read(content, "intake.emergency_signs", "I had to cancel my flight") != CommandWord("stop")
    assert read(content, "intake.clot_risk", "I had to cancel my flight") == Answered(("travel",))
    assert read(content, "intake.emergency_signs", "in english please") == CommandWord("language", "en")
    assert read(content, "intake.emergency_signs", "back") == CommandWord("back")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", ("stop", "")),
        ("unsubscribe", ("stop", "")),
        ("/stop", ("stop", "")),
        ("Parar", ("stop", "")),
        ("please stop messaging me", ("stop", "")),
        ("START", ("start", "")),
        ("restart", ("restart", "")),
        ("start again please", ("restart", "")),
        ("reiniciar", ("restart", "")),
        ("back", ("back", "")),
        ("atrás", ("back", "")),
        ("help", ("help", "")),
        ("AYUDA", ("help", "")),
        ("/language es", ("language", "es")),
        ("español", ("language", "es")),
        ("¿hablas español?", ("language", "es")),
        ("english", ("language", "en")),
        ("idioma", ("language", "")),
        ("delete", ("delete", "")),
        ("borrar mis datos", ("delete", "")),
        ("I want to talk to a person", ("human", "")),
        ("quiero hablar con alguien", ("human", "")),
        ("please stop asking me about my back", None),
        ("stop it hurts", None),
        ("no", None),
        ("hello", None),
    ],
)
def test_command_words(content: Content, text: str, expected: tuple[str, str] | None) -> None:
    command = read_command(content.language, text)
    assert (command and (command.name, command.argument)) == expected


def test_help_alone_is_the_help_command_outside_a_question(content: Content) -> None:
    assert read_command(content.language, "help") == CommandWord("help")
    assert read_command(content.language, "?") is None


def test_without_the_words_only_numbers_are_read(content: Content) -> None:
    plain = Language(Lexicon((), {}))  # no words at all: what a caller without content could read
    assert read_answer(plain, content.intake, "calf", "1", NOW) == Answered(("swollen",))
    assert not isinstance(read_answer(plain, content.intake, "calf", "yes", NOW), Answered)
    assert read_answer(plain, content.intake, "age", "34", NOW) == Answered(("34",))


def test_the_cheap_path_reads_as_the_full_one(content: Content) -> None:
    """Common one-word answers skip the tokenizer; padded past SHORT, the same text takes the full path."""
    texts = sorted(content.language.answers.exact) + [str(n) for n in range(0, 12)]
    for flow in content.flows.values():
        for node_id, node in flow.nodes.items():
            if node.kind == "assessment":
                continue
            for text in texts:
                quick = read_answer(content.language, flow, node_id, text, NOW)
                full = read_answer(content.language, flow, node_id, text + " " * SHORT, NOW)
                assert quick == full, (flow.id, node_id, text)


def test_an_answer_stored_before_several_existed_still_loads(content: Content) -> None:
    stored = (
        '{"v":1,"flow_id":"intake","flow_version":1,"node":"mechanical","answers":[{"node":"calf","value":"no"}],'
        '"started_at":"2026-11-02T10:00:00Z","updated_at":"2026-11-02T10:00:00Z"}'
    )
    session = Session.model_validate_json(stored)
    assert session.answers == (Answer(node="calf", value="no"),)


def test_several_answers_set_every_finding_and_go_where_the_first_leads(content: Content) -> None:
    flow: FlowDefinition = content.intake
    answer = Answered(("nerve", "arthritis")).answer("other_signs")
    findings, _ = flow.findings([answer])
    assert findings.radiating_burning_pain and findings.known_osteoarthritis
    assert flow.next_node("other_signs", answer, lambda: flow.findings([answer])) == "nerve_signs"
    answer = Answered(("catches", "gives_way")).answer("mechanical")
    findings, _ = flow.findings([answer])
    assert findings.locking and findings.giving_way and findings.cannot_straighten is None
