"""The pattern language and the reader every locale's phrases go through: alternatives, options, stems, classes,
gaps within a clause, shorthand and spelling tolerance with its guards (bench/bench_screen.py measures the time)."""

from __future__ import annotations

import pytest

from bot.triage.lexicon import Hit, Lexicon, PhraseError, PhraseSet, Sounds
from bot.triage.text import clean, split_words

PHRASES = PhraseSet(
    {
        "breathless": ["short of breath", "(cannot|struggling to) ...2 breathe", "breathless*", "out of (breath|puff)"],
        "cold_foot": ["{limb} ... (cold|blue)"],
        "none": ["none [of (these|them|the above)]"],
    },
    classes={"limb": ["foot", "lower leg", "toes"]},
)
READER = Lexicon(
    PHRASES.words,
    {"cant": "cannot", "can't": "cannot", "im": "i am", "w/o": "without", "&": "and"},
    stems=PHRASES.stems,
    keep={"chess"},
)


def keys(text: str) -> list[str]:
    return [hit.key for hit in PHRASES.find(READER.read(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm short of breath", ["breathless"]),
        ("i cant really breathe", ["breathless"]),
        ("I can't breathe", ["breathless"]),
        ("struggling to breathe", ["breathless"]),
        ("so breathless today", ["breathless"]),
        ("breathlessness", ["breathless"]),
        ("out of puff", ["breathless"]),
        ("my lower leg is sooo coooold", ["cold_foot"]),
        ("toes blue", ["cold_foot"]),
        ("none of the above", ["none"]),
        ("none", ["none"]),
    ],
)
def test_phrases_match(text: str, expected: list[str]) -> None:
    assert keys(text) == expected


def test_a_gap_is_bounded_and_never_crosses_a_clause() -> None:
    assert keys("cannot really quite breathe") == ["breathless"]
    assert keys("cannot walk far at all, breathe fine") == []
    assert keys("my foot. it is cold") == []
    assert keys("my foot is a bit cold") == ["cold_foot"]
    assert keys("my foot is very very very very cold") == []


def test_hits_are_spans_of_tokens() -> None:
    tokens = READER.read("yes, short of breath")
    assert tokens == ("yes", ",", "short", "of", "breath")
    assert PHRASES.find(tokens) == [Hit("breathless", 2, 5)]


def test_whole_matches_only_the_whole_answer() -> None:
    assert PHRASES.whole(READER.read("None of these")) == {"none"}
    assert PHRASES.whole(READER.read("none of these, but my foot is cold")) == set()


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("breth", ("breath",)),  # one edit
        ("brethe", ("breathe",)),
        ("breathles", ("breathless",)),  # a typo of a stem
        ("brethlessness", ("breathlessness",)),  # a typo in a stem's part
        ("shortof", ("short", "of")),  # run together
        ("chess", ("chess",)),  # a real word the locale keeps
        ("pale", ("pale",)),  # short words are never corrected
        ("bre\u200bath\u00adless", ("breathless",)),  # invisible characters
        ("b r e a t h", ("b", "r", "e", "a", "t", "h")),
        ("w/o", ("without",)),
    ],
)
def test_reading(typed: str, read: tuple[str, ...]) -> None:
    assert READER.read(typed) == read


def test_a_word_with_s_is_read_as_the_word_carrying_the_run_together_form() -> None:
    # "foot's gone blue" is "foot ... blue" ("is", "has" or a possessive), as "toes" is still "toes".
    assert READER.read("foot's") == ("foot",)
    assert keys("my foot's gone blue") == ["cold_foot"]
    assert keys("the toes's gone blue") == ["cold_foot"]
    assert READER.read("can't") == ("cannot",)


def test_a_typo_keeps_its_first_letter() -> None:
    # Only a first letter typed on a key beside the right one, with the rest as written, is corrected
    # (tests/unit/test_lexicon_typos.py): "k" is nowhere near "b", and "greth" has a second mistake.
    assert READER.read("kreath") == ("kreath",)
    assert READER.read("greth") == ("greth",)


def test_clean_drops_what_is_not_a_word() -> None:
    assert clean("¿Puedo RESPIRAR? 38,5 \U0001f62d") == " . puedo respirar? 38.5 \U0001f62d"
    assert split_words(clean("¿Puedo RESPIRAR? 38,5 \U0001f62d")) == [".", "puedo", "respirar", "?", "38.5"]


@pytest.mark.parametrize(
    "phrase",
    ["(a|b", "a)", "{nope} a", "... a", "a ...", "ab* c", "a ...9 b", "caf\u00e9", "[]"],
)
def test_a_phrase_that_cannot_be_read_names_itself(phrase: str) -> None:
    with pytest.raises(PhraseError, match="'"):
        PhraseSet({"k": [phrase]})


def test_alternatives_that_multiply_too_far_are_refused() -> None:
    with pytest.raises(PhraseError, match="alternatives"):
        PhraseSet({"k": ["(a|b|c|d|e|f|g|h) " * 5]})


def test_a_number_range_matches_numbers_within_it() -> None:
    fever = PhraseSet({"fever": ["(temp|temperature) ...2 #37.8-43", "#100.4-110 f"]})
    assert [h.key for h in fever.find(READER.read("temperature is 38,5"))] == ["fever"]
    assert [h.key for h in fever.find(READER.read("temp 101 f"))] == ["fever"]
    assert fever.find(READER.read("temperature 37.1, normal")) == []
    assert fever.find(READER.read("temperature high")) == []


def test_a_range_must_be_a_range() -> None:
    with pytest.raises(PhraseError, match="range"):
        PhraseSet({"k": ["#43-38"]})
    with pytest.raises(PhraseError, match="range"):
        PhraseSet({"k": ["#hot"]})


def test_a_hit_names_the_words_its_gaps_skipped() -> None:
    hits = PHRASES.find(READER.read("i cannot really breathe"))
    assert hits == [Hit("breathless", 1, 4)]
    assert hits[0].gaps == (2,)
    assert PHRASES.find(READER.read("short of breath"))[0].gaps == ()


def test_fillers_are_read_past_between_a_phrases_words_two_at_most_never_first_or_last() -> None:
    phrases = {"ending": ["ending my life"], "short": ["short of breath"]}
    plain, filled = PhraseSet(phrases), PhraseSet(phrases, fillers=frozenset({"own", "really", "so"}))
    reader = Lexicon(plain.words, {}, stems=plain.stems)
    assert plain.find(reader.read("ending my own life")) == []
    hits = filled.find(reader.read("ending my own life"))
    assert hits == [Hit("ending", 0, 4)] and hits[0].gaps == (2,)
    assert [h.key for h in filled.find(reader.read("short really so of breath"))] == ["short"]
    assert filled.find(reader.read("short really so really of breath")) == []  # three in a row: too far
    assert filled.find(reader.read("so short of breath")) == [Hit("short", 1, 4)]  # not a part before the phrase
    assert filled.find(reader.read("ending my life really")) == [Hit("ending", 0, 3)]  # nor after it
    assert filled.whole(reader.read("short of breath really")) == set()


def test_a_phrase_may_name_a_comma() -> None:
    chest = PhraseSet({"chest": ["chest , it hurts"]})
    assert [h.key for h in chest.find(READER.read("it's my chest, it hurts"))] == ["chest"]
    assert chest.find(READER.read("chest it hurts")) == []


def test_spelling_can_be_switched_off_to_measure_it() -> None:
    plain = Lexicon(PHRASES.words, {"cant": "cannot"}, stems=PHRASES.stems, spelling=False)
    assert plain.read("cant brethe") == ("cannot", "brethe")
    assert READER.read("cant brethe") == ("cannot", "breathe")


def test_a_four_letter_typo_is_corrected_only_towards_the_short_words() -> None:
    reader = Lexicon(PHRASES.words | {"pain", "blood"}, {}, short={"pain", "blood"}, keep={"paid"})
    assert reader.read("pian blod") == ("pain", "blood")
    assert reader.read("paid") == ("paid",)  # a real word
    assert reader.read("bred") == ("bred",)  # not one of the short words' typos: two edits from "blood"
    assert READER.read("pian") == ("pian",)  # a reader without short words corrects no four-letter word


ENGLISH = Sounds((("ough", "of"), ("igh", "i"), ("ea", "i"), ("u", "o"), ("c", "k"), ("e$", "")))
SPANISH = Sounds(
    (("ch", "C"), ("x", "C"), ("ll", "y"), ("ce", "se"), ("ci", "si"), ("c", "k"), ("z", "s"), ("v", "b"), ("h", ""))
)


def test_a_sound_key_follows_the_rewrites_in_order() -> None:
    assert ENGLISH.key("enough") == ENGLISH.key("enuf") == "enof"
    assert ENGLISH.key("tight") == ENGLISH.key("tite") == "tit"
    assert ENGLISH.key("blood") == ENGLISH.key("blud") != ENGLISH.key("bleed")
    assert SPANISH.key("pecho") == SPANISH.key("pexo")
    assert SPANISH.key("toser") == SPANISH.key("tocer")
    # A doubled letter's rewrite comes before doubled letters are made single: "ll" sounds as "y".
    assert SPANISH.key("rodilla") == SPANISH.key("rodiya") == "rodiya" != SPANISH.key("rodila")
    silent = Sounds((("^kn", "n"), ("^wr", "r"), ("e$", "")))
    assert silent.key("knee") == silent.key("nee") and silent.key("wrong") == silent.key("rong")


def test_a_word_written_as_it_sounds_is_read_as_the_word() -> None:
    words = {"coughing", "toser", "tocar", "vivir", "enough", "tight", "kill", "blood", "bleed", "pecho", "chest"}
    short = {"enough", "tight", "kill", "blood", "bleed", "pecho", "chest"}
    reader = Lexicon(words, {}, short=short, keep={"dye", "till"}, sounds=(ENGLISH, SPANISH))
    assert reader.read("cofing blud") == ("coughing", "blood")  # three edits from "coughing", but it sounds the same
    assert reader.read("tocer") == ("toser",)  # by sound, although "tocar" is as few edits away
    assert reader.read("bivir") == ("vivir",)
    assert reader.read("enuf tite pexo") == ("enough", "tight", "pecho")
    assert reader.read("kil") == ("kill",)  # three letters: one dropped letter of a short word
    assert reader.read("til dye") == ("til", "dye")  # "til" is two short words' typo; "dye" a kept real word
    plain = Lexicon(words, {}, short=short, keep={"dye"})
    assert plain.read("cofing tite") == ("cofing", "tite")  # without a language's sounds, no such reading


def test_two_words_that_sound_alike_and_are_as_near_leave_the_typo_alone() -> None:
    reader = Lexicon({"pain", "paen"}, {}, short={"pain", "paen"}, sounds=(Sounds((("ai", "a"), ("ae", "a"))),))
    assert reader.read("pan") == ("pan",)
    assert Lexicon({"pain"}, {}, short={"pain"}, sounds=(Sounds((("ai", "a"),)),)).read("pan") == ("pain",)
