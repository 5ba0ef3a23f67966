"""A crisis said of another person ("my son wants to kill himself"): the screen knows whose it is (the vocabulary's
`someone_else` triggers), and the reply, its yes/no question and the check-in after it are worded for the person
worried about them, with the same emergency number and crisis line; a crisis of the writer's own always gets the
writer's wording."""

from __future__ import annotations

from pathlib import Path

import pytest
from talk import Talk, asked, keys

from bot.content.loader import Content, ContentError, load_content
from bot.triage.safety import SAFETY_NODE
from bot.triage.session import SessionStatus
from tests.conftest import FixedClock, copy_content

OWN = "crisis.message"
OTHERS = "crisis.message.someone_else"


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("my son wants to kill himself", "suicidal"),
        ("my daughter is cutting herself on purpose", "self_harm"),
        ("mi hijo se quiere matar", "suicidal"),
        ("my husband texted me saying he is going to end his life", "suicidal"),
    ],
)
def test_the_screen_knows_a_crisis_said_of_someone_else(content: Content, text: str, flag: str) -> None:
    found = content.language.screen(text)
    assert found.interrupt == "crisis" and found.someone_else == (flag,)


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "my son wants to kill himself and I want to kill myself too",
        "quiero morirme",
        "I keep cutting my arms on purpose",
        # "he" is a Spanish verb here (he hecho), and a pronoun to the English words
        "Me he hecho cortes en el antebrazo con una cuchilla de afeitar y no se lo he contado a nadie.",
        "if someone had been saving up their pills for months, how many would be enough",
    ],
)
def test_a_crisis_of_the_writer_s_own_is_never_taken_for_someone_else_s(content: Content, text: str) -> None:
    found = content.language.screen(text)
    assert found.interrupt == "crisis" and found.someone_else == ()


def worried(
    content: Content, clock: FixedClock, locale: str = "en", text: str = "my son wants to kill himself"
) -> Talk:
    talk = Talk(content, clock, locale=locale)
    talk.send("hi")
    turn = talk.send(text)
    assert OTHERS in keys(turn) and OWN not in keys(turn)
    assert talk.session.interrupt == "crisis" and talk.session.someone_else == ("suicidal",)
    return talk


def test_the_reply_speaks_to_the_worried_person_with_the_number_and_the_line(
    content: Content, clock: FixedClock
) -> None:
    talk = Talk(content, clock)
    talk.send("hi")
    said = talk.text(talk.send("my son wants to kill himself"))
    assert "If they might act on these thoughts now" in said and "call 911 now" in said and "988" in said
    assert "If you might act on these thoughts" not in said


def test_spanish_wording_for_someone_else_holds_no_english(content: Content, clock: FixedClock) -> None:
    talk = worried(content, clock, "es", "mi hijo se quiere matar")
    said = talk.text(talk.turns[-1])
    assert "Si esa persona podría actuar" in said and "llame al 911" in said
    assert not {"call", "you", "the", "now"} & set(said.lower().replace(",", " ").replace(".", " ").split())


def test_the_check_in_asks_whether_that_person_is_safe(content: Content, clock: FixedClock) -> None:
    talk = worried(content, clock)
    turn = talk.due()
    said = talk.text(turn)
    assert asked(turn) == "someone_safe" and "Is the person you told me about safe right now?" in said
    assert "911" in said
    turn = talk.send("yes")
    assert "checkin.someone_safe_now" in keys(turn) and "988" in talk.text(turn) and "911" in talk.text(turn)


@pytest.mark.parametrize("answer", ["no", "not sure"])
def test_not_safe_gives_the_message_for_someone_else_again(content: Content, clock: FixedClock, answer: str) -> None:
    talk = worried(content, clock)
    talk.due()
    turn = talk.send(answer)
    assert OTHERS in keys(turn) and OWN not in keys(turn)
    assert talk.session.status is SessionStatus.escalated


def test_the_writer_s_own_crisis_afterwards_gets_the_writer_s_wording_and_check_in(
    content: Content, clock: FixedClock
) -> None:
    talk = worried(content, clock)
    turn = talk.send("honestly I want to die too")
    assert OWN in keys(turn) and OTHERS not in keys(turn)
    assert talk.session.someone_else == ()
    assert asked(talk.due()) == "safe"


def test_a_weak_reading_about_someone_else_is_asked_about_them(content: Content, clock: FixedClock) -> None:
    talk = Talk(content, clock)
    talk.send("hi")
    turn = talk.send("my son has been giving away all his things, like his guitar and his xbox")
    assert asked(turn) == SAFETY_NODE and keys(turn)[-1] == "confirm.suicidal.someone_else"
    assert talk.text(turn).endswith("Is the person you are telling me about having thoughts of ending their life?")
    turn = talk.send("yes")
    assert OTHERS in keys(turn) and talk.session.someone_else == ("suicidal",)


def test_someone_else_is_for_crisis_flags_only(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "locales" / "en" / "vocabulary" / "redflags.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "  short_of_breath:\n    - say:\n", "  short_of_breath:\n    - someone_else: true\n      say:\n", 1
        )
    )
    with pytest.raises(ContentError, match="short_of_breath: `someone_else` is for crisis flags only"):
        load_content(root)


def test_the_check_in_flow_must_start_somewhere_after_a_crisis_of_someone_else(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "flows" / "checkin.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  crisis.someone_else: someone_safe\n", "  crisis.someone_els: someone_safe\n"))
    with pytest.raises(ContentError, match="no start for 'crisis.someone_else'"):
        load_content(root)
