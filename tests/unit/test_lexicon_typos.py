"""Messages typed the way worried people type them: words as near to several phrase words as each other, stretched
letters, typos in inflected words, a first letter on the key beside it, and a fever written with decimals
(bench/typo_robustness.py measures the same over the phrase suite)."""

from __future__ import annotations

import pytest

from bot.content.loader import Content
from bot.triage.lexicon import Lexicon, PhraseSet, Sounds, Token
from bot.triage.text import squeezings


def screened(content: Content, text: str) -> tuple[str | None, tuple[str, ...]]:
    result = content.language.screen(text)
    return result.interrupt, result.matched


def test_a_typo_as_near_to_two_words_keeps_both() -> None:
    phrases = PhraseSet({"hurts": ["chest (really|still) hurts"], "hurls": ["hurls it"]})
    reader = Lexicon(phrases.words, {}, stems=phrases.stems)
    (token,) = reader.read("hurys")  # one edit from "hurts" and from "hurls"
    assert isinstance(token, Token)
    assert {token, *token.others} == {"hurts", "hurls"}
    assert [h.key for h in phrases.find(reader.read("chest still hurys"))] == ["hurts"]
    assert [h.key for h in phrases.find(reader.read("hurys it"))] == ["hurls"]
    assert phrases.whole(reader.read("chest really hurys")) == {"hurts"}


def test_a_short_typo_as_near_to_two_short_words_matches_either() -> None:
    phrases = PhraseSet({"pain": ["chest pain"], "pale": ["looks pale"]})
    reader = Lexicon(phrases.words, {}, short={"pain", "pale"})
    assert reader.read("paie") == ("paie",)  # read as typed, carrying both
    assert [h.key for h in phrases.find(reader.read("chest paie"))] == ["pain"]
    assert [h.key for h in phrases.find(reader.read("looks paie"))] == ["pale"]


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("doesnnnnt", ("does", "not")),
        ("i cantttt breathe", ("i", "cannot", "breathe")),
        ("cnt breatheeee", ("cannot", "breathe")),
        ("noooo puedo respirarrr", ("no", "puedo", "respirar")),
        ("sooooo cold", ("so", "cold")),
    ],
)
def test_stretched_letters_still_make_the_word_or_its_shorthand(
    content: Content, typed: str, read: tuple[str, ...]
) -> None:
    assert content.language.red_flags is not None
    assert content.language.red_flags.lexicon.read(typed) == read


def test_a_stretched_letter_is_tried_once_and_twice() -> None:
    assert squeezings("gooooood") == ["good", "god"]
    assert squeezings("cantttt") == ["cantt", "cant"]
    assert squeezings("pain") == ["pain"]


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("i cantttt breathe", "short_of_breath"),
        ("she doesnnnnt wake up", "unconscious"),
        ("noooo puedo respirarrr", "short_of_breath"),
        ("my calf swelleed up", "calf_clot_signs"),
        ("my breathinng is bad", "short_of_breath"),
        ("i cant nreathe", "short_of_breath"),
        ("pain in my xhest", "chest_pain"),
    ],
)
def test_typed_emergencies_are_caught(content: Content, text: str, flag: str) -> None:
    interrupt, matched = screened(content, text)
    assert interrupt in ("emergency", "urgent", "crisis"), (text, interrupt)
    assert flag in matched


def test_stretched_and_inflected_typos_reach_the_word() -> None:
    phrases = PhraseSet({"swollen": ["calf (swollen|swelled)", "swell* up"], "bleeding": ["bleeding a lot"]})
    reader = Lexicon(phrases.words, {"cant": "cannot"}, stems=phrases.stems)
    assert [h.key for h in phrases.find(reader.read("calf swelleed"))] == ["swollen"]
    assert [h.key for h in phrases.find(reader.read("calf swelleed up"))] == ["swollen", "swollen"]  # both spans
    assert [h.key for h in phrases.find(reader.read("bleedding a lot"))] == ["bleeding"]


def test_a_first_letter_on_the_key_beside_it_is_corrected_in_longer_words() -> None:
    reader = Lexicon({"breath", "breathe", "chest", "pain"}, {}, keep={"wreath"})
    assert reader.read("vreath nreathe xhest") == ("breath", "breathe", "chest")
    assert reader.read("wreath") == ("wreath",)  # a real word
    assert reader.read("kreath") == ("kreath",)  # "k" is nowhere near "b"
    assert reader.read("oain") == ("oain",)  # four letters: too short to guess its first letter
    assert reader.read("vreth") == ("vreth",)  # a first letter and another mistake: too far


def test_a_decimal_only_range_wants_a_decimal_point() -> None:
    fever = PhraseSet({"fever": ["tiene ##37.8-43"], "maybe": ["tiene #37.8-43"]})
    reader = Lexicon(fever.words, {})
    assert [h.key for h in fever.find(reader.read("tiene 38,9"))] == ["fever", "maybe"]
    assert [h.key for h in fever.find(reader.read("tiene 40"))] == ["maybe"]
    assert fever.find(reader.read("tiene 36.6")) == []


def test_a_temperature_with_decimals_is_a_fever_and_an_age_is_not(content: Content) -> None:
    assert screened(content, "mi hijo de 8 años cojea y tiene 38.9") == ("emergency", ("child_fever_limp",))
    assert screened(content, "mi rodilla esta caliente e hinchada, tiene 38.9") == ("emergency", ("septic_knee",))
    assert screened(content, "mi hijo de 8 años cojea y tiene 39")[0] == "confirm"  # a whole number: asked


def test_a_short_typo_one_keyboard_slip_from_a_phrase_word_is_read_as_it() -> None:
    phrases = PhraseSet({"sob": ["short of breath", "feel faint", "like a dog", "pain"]})
    reader = Lexicon(phrases.words, {}, keep={"fee", "sort"})
    assert reader.read("shrt of breath") == ("short", "of", "breath")
    assert reader.read("sort of breath") == ("sort", "of", "breath")  # a real word
    assert reader.read("fel") == ("feel",)  # a letter dropped from a four-letter word
    assert reader.read("lkie") == ("like",)  # two letters swapped
    assert reader.read("paon") == ("pain",)  # "o" is beside "i"
    assert reader.read("pamn") == ("pamn",)  # "m" is not beside "i": too far a guess at four letters
    assert reader.read("fee") == ("fee",)  # a real word
    assert reader.read("fe") == ("fe",)  # two letters: never


def test_a_slip_as_near_to_several_words_carries_them_all() -> None:
    reader = Lexicon({"feel", "fell", "felt"}, {})
    (token,) = reader.read("fel")
    assert isinstance(token, Token)
    assert token == "fel" and set(token.others) == {"feel", "fell", "felt"}


@pytest.mark.parametrize(
    "text",
    [
        "husband is shrt of breath and sweaty",
        "I can't fel my bum when I sit on the toilet",
        "pain going dwn my left arm and into my jaw and im all sweaty",
        "sarp pain wen i breathe in",
        "me flta el aire con solo caminar a la cocina",
        "thinking of driving my car into a wll",
        "sería mjor para todos si yo no estuviera",
    ],
)
def test_a_letter_dropped_from_a_short_word_still_alarms(content: Content, text: str) -> None:
    assert screened(content, text)[0] is not None


@pytest.mark.parametrize(
    "text",
    [
        "went to bed early, knee sore",
        "i did my stretches, knee still stiff",
        "the dog bit my shoe lol",
        "my legs are thin and the knee aches",
        "no chest pain, i just feel a bit off",
    ],
)
def test_real_short_words_near_a_phrase_word_stay_calm(content: Content, text: str) -> None:
    assert screened(content, text)[0] is None


@pytest.mark.parametrize(
    ("word", "not_read_as"), [("bed", "bled"), ("did", "died"), ("bet", "best"), ("thin", "think")]
)
def test_real_short_words_are_never_slips(content: Content, word: str, not_read_as: str) -> None:
    assert content.language.red_flags is not None
    (token,) = content.language.red_flags.lexicon.read(word)
    assert token == word and not_read_as not in getattr(token, "others", ())


def test_a_word_that_sounds_like_one_word_keeps_the_words_as_few_edits_away() -> None:
    spanish = Sounds((("v", "b"),))
    phrases = PhraseSet({"stab": ["stabbed in the leg"], "saved": ["saved my life"]})
    reader = Lexicon(phrases.words, {}, sounds=(spanish,))
    (token,) = reader.read("sabbed")  # sounds like "saved", and is a letter from "stabbed"
    assert token == "saved" and "stabbed" in token.others
    assert [h.key for h in phrases.find(reader.read("sabbed in the leg"))] == ["stab"]
    assert [h.key for h in phrases.find(reader.read("sabbed my life"))] == ["saved"]


def test_a_short_word_that_sounds_like_a_short_word_keeps_those_an_edit_away(content: Content) -> None:
    assert content.language.red_flags is not None
    (token,) = content.language.red_flags.lexicon.read("bloo")  # sounds like "blue", a letter from "blood"
    assert token == "blue" and "blood" in getattr(token, "others", ())
    assert screened(content, "coughing up bloo")[0] == "emergency"
