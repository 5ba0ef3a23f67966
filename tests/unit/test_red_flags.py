"""The red-flag screen against the project's phrase suite (with its figures per concept and language), the shared
calibration set, the table and the vocabulary files; and how it reads negation, history, questions and idioms."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from clinical import load_yaml, shared
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.loader import Content
from bot.triage.findings import BOOLEAN_FINDINGS
from bot.triage.language import Language, build_language
from bot.triage.red_flags import Screen

ROOT = Path(__file__).resolve().parents[2]
INTERRUPTS = ("emergency", "urgent", "crisis")
EXPECTED = {*INTERRUPTS, "confirm", "none"}
RANK = {"none": 0, "confirm": 0, "urgent": 1, "emergency": 2, "crisis": 2}
FIELDS = {"id", "text", "lang", "expected", "concept", "description"}


SUITE: list[dict[str, Any]] = load_yaml(ROOT / "tests" / "data" / "phrases.yaml")["messages"]


def got(language: Language, text: str) -> str:
    return language.screen(text).interrupt or "none"


@pytest.fixture(scope="module")
def suite_screens(content: Content) -> dict[str, Screen]:
    """The screen's answer to every suite message, read once: the phrase tests, the figures and the spelling
    comparison all ask about the same 11,000 messages, and the screen is pure."""
    return {case["text"]: content.language.screen(case["text"]) for case in SUITE}


# --- the project's phrase suite ------------------------------------------------------------------------


def test_suite_is_big_enough_and_well_formed(content: Content) -> None:
    ids = [case["id"] for case in SUITE]
    assert len(ids) == len(set(ids))
    texts = [case["text"] for case in SUITE]
    assert len(texts) == len(set(texts))
    flags = {flag.id for flag in content.red_flags.flags}
    for case in SUITE:
        assert set(case) == FIELDS, case["id"]
        assert case["expected"] in EXPECTED, case["id"]
        assert case["lang"] in ("en", "es", "mixed"), case["id"]
        assert case["concept"] in flags, case["id"]
        assert case["description"].strip(), case["id"]
    calm = [case for case in SUITE if case["expected"] == "none"]
    assert len(SUITE) - len(calm) >= 500
    assert len(calm) >= 150
    assert sum(case["lang"] != "en" for case in SUITE) >= 150
    assert flags <= {case["concept"] for case in SUITE if case["expected"] != "none"}


# One test per concept and language, each asserting every one of its cases and naming all those it gets wrong: the
# suite's 11,000 cases as single tests spent most of the run in pytest's own bookkeeping.
GROUPS = sorted({(case["concept"], case["lang"]) for case in SUITE})


@pytest.mark.parametrize(("concept", "lang"), GROUPS, ids=[f"{c}.{lang}" for c, lang in GROUPS])
def test_phrases(suite_screens: dict[str, Screen], concept: str, lang: str) -> None:
    wrong = []
    for case in SUITE:
        if case["concept"] != concept or case["lang"] != lang:
            continue
        result = suite_screens[case["text"]]
        if (result.interrupt or "none") != case["expected"] or (
            case["expected"] != "none" and concept not in result.matched
        ):
            wrong.append(f"{case['id']} expected {case['expected']}: {case['description']} -> {result}")
    assert not wrong, f"{len(wrong)} case(s) wrong:\n" + "\n".join(wrong)


def _figures(answers: Mapping[str, str]) -> tuple[dict[tuple[str, str], list[int]], float, float]:
    """Per (concept, lang): [cases, caught at once, caught or asked]; and the specificity over calm messages, and
    the share of those asked about (a confirm)."""
    figures: dict[tuple[str, str], list[int]] = {}
    calm = Counter[str]()
    for case in SUITE:
        answer = answers[case["text"]]
        if case["expected"] == "none":
            calm[answer] += 1
            continue
        row = figures.setdefault((case["concept"], case["lang"]), [0, 0, 0])
        row[0] += 1
        wanted = case["expected"]
        if wanted == "confirm":
            row[1] += answer == "confirm"
            row[2] += answer != "none"
        else:
            row[1] += RANK[answer] >= RANK[wanted]
            row[2] += RANK[answer] >= RANK[wanted] or answer == "confirm"
    total = sum(calm.values())
    return figures, calm["none"] / total, calm["confirm"] / total


def test_suite_figures(suite_screens: dict[str, Screen]) -> None:
    answers = {text: screen.interrupt or "none" for text, screen in suite_screens.items()}
    figures, specificity, asked = _figures(answers)
    print("\nconcept              lang   cases  at once  at once or asked")
    for (concept, lang), (n, now, asked_too) in sorted(figures.items()):
        print(f"{concept:20} {lang:6} {n:5}  {now / n:7.1%}  {asked_too / n:7.1%}")
    by_level: dict[str, list[int]] = {}
    for case in SUITE:
        if case["expected"] in INTERRUPTS:
            row = by_level.setdefault(case["expected"], [0, 0])
            answer = answers[case["text"]]
            row[0] += 1
            row[1] += RANK[answer] >= RANK[case["expected"]] or (answer == "confirm" and case["expected"] != "urgent")
    for level, (n, caught) in sorted(by_level.items()):
        print(f"{level} recall: {caught / n:.1%} of {n}")
    print(f"calm messages left alone: {specificity:.1%} (asked about: {asked:.1%})")
    assert by_level["emergency"][1] / by_level["emergency"][0] >= 0.95
    assert by_level["crisis"][1] / by_level["crisis"][0] >= 0.95
    assert by_level["urgent"][1] / by_level["urgent"][0] >= 0.90
    assert specificity >= 0.90


def test_spelling_tolerance_adds_no_false_alarm(content: Content, suite_screens: dict[str, Screen]) -> None:
    """The calm messages screened with and without spelling correction: the correction (with its guards and the kept
    real words) must not turn a calm message into an interrupt; what it adds is the typos caught."""
    plain = build_language(content.vocabularies, red_flags=content.red_flags, spelling=False)
    calm = [case["text"] for case in SUITE if case["expected"] == "none"]
    alarms_with = sum(suite_screens[text].interrupt is not None for text in calm)
    alarms_without = sum(got(plain, text) != "none" for text in calm)
    positives = [case for case in SUITE if case["expected"] != "none"]
    missed_with = sum((suite_screens[c["text"]].interrupt or "none") != c["expected"] for c in positives)
    missed_without = sum(got(plain, c["text"]) != c["expected"] for c in positives)
    print(f"\ncalm messages interrupted of {len(calm)}: {alarms_with} with spelling, {alarms_without} without")
    print(f"red-flag messages misread: {missed_with} with spelling correction, {missed_without} without")
    assert alarms_with <= alarms_without
    assert missed_with < missed_without


# --- the shared calibration set ------------------------------------------------------------------------


def test_shared_calibration_phrases(content: Content) -> None:
    """The hook's rule: expected `emergency` must give emergency or crisis (a confirm is a miss); `not_emergency`
    must give neither."""
    wrong = []
    for case in shared("phrases.yaml")["messages"]:
        answer = got(content.language, case["text"])
        if (case["expected"] == "emergency") != (answer in ("emergency", "crisis")):
            wrong.append(f"{case['id']}: expected {case['expected']}, got {answer}: {case['text']}")
    assert not wrong, "\n".join(wrong)


def test_shared_vignette_narratives(content: Content) -> None:
    wrong = []
    for case in shared("examples.yaml")["vignettes"]:
        answer = got(content.language, case["narrative"])
        if (case["expected_level"] == "emergency") != (answer in ("emergency", "crisis")):
            wrong.append(f"{case['id']}: expected {case['expected_level']}, got {answer}")
    assert not wrong, "\n".join(wrong)


# --- behaviour ------------------------------------------------------------------------------------------


def test_crisis_and_overdose_together(content: Content) -> None:
    result = content.language.screen("took all my sleeping pills because I want to die")
    assert result.interrupt == "crisis"
    assert result.matched == ("overdose", "suicidal")


def test_emergency_wins_over_urgent_and_findings_are_recorded(content: Content) -> None:
    result = content.language.screen("my left calf is swollen and I'm short of breath")
    assert result.interrupt == "emergency"
    assert result.matched == ("short_of_breath", "calf_clot_signs")
    assert result.findings == ("short_of_breath", "calf_swelling_one_side")


def test_every_language_is_read_in_every_message(content: Content) -> None:
    assert content.language.screen("me falta el aire, my calf is swollen").matched == (
        "short_of_breath",
        "calf_clot_signs",
    )


def test_a_question_or_a_hypothetical_asks_first(content: Content) -> None:
    general = content.language.screen("can a clot cause chest pain?")
    assert general.interrupt == "confirm" and "chest_pain" in general.matched
    assert content.language.screen("what if I get chest pain tonight").interrupt == "confirm"
    assert content.language.screen("am I having a heart attack?").matched == ("chest_pain",)


def test_a_sign_only_supposed_is_no_sign_when_nothing_of_it_is_there_now(content: Content) -> None:
    """ "What should I do if ...? Right now I feel fine": the sign is only supposed. A sign asked about ("what if this
    chest pain is a clot?") still is one, and "fine otherwise" says nothing of the sign."""
    assert got(content.language, "what should I do if I get chest pain? right now I feel fine") == "none"
    assert got(content.language, "qué hago si me da fiebre y la rodilla caliente? ahora no tengo nada de eso") == "none"
    assert got(content.language, "what should I do if I get chest pain?") == "confirm"
    assert got(content.language, "what if this chest pain is a clot? right now I'm fine") == "confirm"
    assert got(content.language, "what should I do if I get chest pain? right now I'm fine otherwise") == "confirm"


def test_a_sign_only_asked_about_beside_a_clot_is_mentioned(content: Content) -> None:
    result = content.language.screen("my calf is swollen, could this be a clot in my lung?")
    assert result.interrupt == "urgent"
    assert "short_of_breath" in result.mentioned


def test_as_always_closing_a_later_clause_reaches_back_over_the_sentence(content: Content) -> None:
    """ "and always have been" speaks of what came before it: the sign is a baseline, unless something is new; the
    same words that do not close their clause ("always have been a smoker") say nothing of the sign."""
    assert got(content.language, "bit winded after the stairs but I'm 70 and always have been") == "none"
    assert got(content.language, "me falta el aire al subir la cuesta, pero tengo 80 y siempre ha sido asi") == "none"
    assert got(content.language, "winded on the stairs today, but always have been") == "emergency"
    assert got(content.language, "short of breath but always have been a smoker") == "emergency"
    assert got(content.language, "a bit puffed after hills but I'm 82 and that's normal for me") == "none"
    assert got(content.language, "me falta el aire al subir pero tengo 80 y es normal para mi") == "none"
    assert got(content.language, "me falta el aire al subir y no es normal") == "emergency"
    assert got(content.language, "bit winded after the stairs but that's not normal") == "emergency"


def test_as_always_opening_a_sentence_of_its_own_speaks_of_the_one_before(content: Content) -> None:
    """ "... normal no? Always been like that." reaches back over one sentence, unless that one says something new."""
    assert got(content.language, "I get short of breath on the stairs. Always been like that.") == "none"
    assert got(content.language, "me falta el aire al subir la cuesta. Siempre ha sido así.") == "none"
    assert got(content.language, "I get short of breath on the stairs today. Always been like that.") == "emergency"
    assert got(content.language, "I can't breathe. Is that normal?") == "emergency"


def test_a_sign_of_the_past_that_happened_again_is_current(content: Content) -> None:
    """ "and again this morning" opening a later part of the sentence makes the past sign current; "again" said of
    something else, or in the past itself, does not."""
    assert got(content.language, "I fainted 3 years ago") == "none"
    assert got(content.language, "I fainted 3 years ago and again this morning") == "emergency"
    assert got(content.language, "me desmayé hace tres años y hoy me volvió a pasar") == "emergency"
    assert got(content.language, "I fainted 3 years ago and my knee is swollen again") == "none"
    assert got(content.language, "I fainted years ago, never again since") == "none"


def test_a_sentence_looking_back_dates_the_one_before(content: Content) -> None:
    """ "That was 4 years ago." right after the sign's sentence dates it; not when it says it happened again, nor when
    its time is not right after the look back."""
    assert got(content.language, "I fainted at a wedding. That was 4 years ago.") == "none"
    assert got(content.language, "Me desmayé en una boda. Eso fue hace 4 años.") == "none"
    assert got(content.language, "I fainted at a wedding. That was 4 years ago, and again today.") == "emergency"
    assert got(content.language, "My chest hurts. That was my dad's problem years ago") == "emergency"


def test_a_history_phrase_opened_by_a_break_word_dates_what_follows_it(content: Content) -> None:
    """ "As a kid I fainted": "as" ends a negation's reach, but the phrase it opens dates the words after it too."""
    assert got(content.language, "As a kid I fainted at church") == "none"
    assert got(content.language, "As a child I fainted a lot and today I fainted again") == "emergency"
    assert got(content.language, "my dad coughed up blood before he passed") == "none"


def test_a_time_said_after_the_rest_in_a_part_of_its_own_dates_the_clause(content: Content) -> None:
    assert got(content.language, "I fainted at work, 3 years ago") == "none"
    assert got(content.language, "me desmayé en el trabajo, hace 3 años") == "none"
    assert got(content.language, "I fainted today at work, 3 years ago too") == "emergency"
    assert got(content.language, "chest pain and sweating, like 10 years ago when I had my heart attack") == "emergency"


def test_a_sign_after_a_comma_following_a_dated_past_is_a_sign_now(content: Content) -> None:
    """Only "and" lists a sign with the past before it; after a comma it may be now, the safer reading."""
    assert got(content.language, "dvt in 2019, cant breathe") == "emergency"
    assert got(content.language, "had a stent in 2015, crushing chest pain") == "emergency"
    assert got(content.language, "had a clot in 2019, calf swollen again now") == "urgent"
    assert got(content.language, "I had a DVT in 2019, my calf is swollen") == "urgent"
    assert got(content.language, "a chest infection in January that left me wheezy and short of breath") == "none"


def test_a_time_clause_in_the_past_dates_what_came_before_it(content: Content) -> None:
    assert got(content.language, "my dad coughed up blood when he had tb in the 80s") == "none"
    assert got(content.language, "mi papá tosía sangre cuando tuvo tuberculosis hace años") == "none"
    assert got(content.language, "I coughed up blood today when I had a coughing fit like in 2019") == "emergency"
    assert got(content.language, "I coughed up blood, I had tb in the 80s") == "emergency"


def test_a_time_clause_closing_a_dated_one_is_the_same_past(content: Content) -> None:
    """ "found out in 2015 when my lips swelled up": the "when" that ends a dated stretch, with no pause before it,
    tells what happened then; after a comma it may be a habit now ("a clot in 2015, when I walk my calf swells")."""
    text = "im allergic to shrimp, found out in 2015 when my lips swelled up at a party, now i avoid it"
    assert got(content.language, text) == "none"
    assert got(content.language, "lo supe en 2015 cuando se me hincharon los labios en una fiesta") == "none"
    assert got(content.language, "had a clot in 2015, when i walk my calf is swollen and hot") == "urgent"
    assert got(content.language, "in 2015 i had a reaction and today my lips are swelling up") == "emergency"


def test_without_after_a_negative_is_a_sign_only_in_the_same_stretch_of_words(content: Content) -> None:
    """ "can't walk across the room without being puffed out" is breathlessness; "no fever, without shortness of
    breath" denies it: a comma ends the negative before "without"."""
    assert got(content.language, "I cannot walk across the room without being puffed out") == "emergency"
    assert got(content.language, "no fever, without shortness of breath") == "none"
    text = "can barely get up the 3 steps to my front door without needing a sit down to get my breath"
    assert got(content.language, text) == "emergency"


def test_thoughts_of_self_harm_denied_however_far_the_words(content: Content) -> None:
    """ "no thoughts of hurting myself" denies; a crisis word is otherwise negated only by the word before it, and
    "no desire to live" or "no reason to live" are crisis words themselves."""
    assert got(content.language, "no thoughts of hurting myself, just stressed") == "none"
    assert got(content.language, "no tengo pensamientos de hacerme daño") == "none"
    assert got(content.language, "I have no desire to live") == "crisis"
    assert got(content.language, "no thoughts of hurting myself, but I want to die") == "crisis"


def test_a_racing_heart_from_caffeine_is_asked_about_only_without_faintness(content: Content) -> None:
    assert got(content.language, "heart racing bc i had 3 red bulls lol, knee still sore") == "none"
    assert got(content.language, "had a coffee and now my heart is racing and i feel faint") == "emergency"
    assert got(content.language, "my heart is racing") == "confirm"


def test_to_die_for_is_an_idiom_only_of_things(content: Content) -> None:
    assert got(content.language, "that cake is to die for") == "none"
    assert got(content.language, "wanna die fr") == "crisis"
    assert got(content.language, "i wnat to dye") == "crisis"
    assert got(content.language, "I want to dye my hair blue") == "none"


def test_a_sign_answered_no_with_a_tail_is_denied_but_not_after_a_comma(content: Content) -> None:
    """ "chest pain none eh" answers no; after a comma a "none" may be about something else ("chest pain, none before
    today" is new chest pain), and a tag question ("..., ¿no?") or words after the no ("no se me quita", "no joke")
    answer nothing."""
    assert got(content.language, "Dolor de pecho ninguno eh, que ya sé que lo preguntan") == "none"
    assert got(content.language, "Chest pain none eh, I know you ask") == "none"
    assert got(content.language, "chest pain, none before today") == "emergency"
    assert got(content.language, "dolor de pecho, ninguno antes de hoy") == "emergency"
    assert got(content.language, "Me duele el pecho, ¿no?") == "emergency"
    assert got(content.language, "me duele el pecho, no se me quita") == "emergency"
    assert got(content.language, "chest pain, no joke") == "emergency"


def test_recurrence_opens_a_later_part_only(content: Content) -> None:
    assert got(content.language, "me desmayé una vez en el trabajo y hoy otra vez") == "emergency"
    assert got(content.language, "coughing up blood. That happened 2 years ago too") == "emergency"
    assert got(content.language, "I fainted at a wedding. That was 4 years ago.") == "none"


def test_merge_repairs_stay_alarms(content: Content) -> None:
    """What the recall7 merge found silenced where two learners' fixes met, or a fix read too widely."""
    assert got(content.language, "I'm drowning in paperwork and I really can't breathe") == "emergency"
    assert got(content.language, "se tomó todas sus pastillas, las que toma cada día para la presión") == "emergency"
    assert got(content.language, "tomó todo el frasco de las pastillas que toma a diario") == "emergency"
    assert got(content.language, "tomo muchas pastillas al día para la presión") == "none"
    assert got(content.language, "vi un documental sobre el ictus y ahora tengo la boca torcida") == "emergency"
    assert got(content.language, "my son had a seizure, he's fine now") == "confirm"
    assert got(content.language, "chest pain that lasted a week and is still there") == "emergency"
    # a faint told after a dated past may be the sign now: "continuation" holds no faint (a post-operative faint)
    assert got(content.language, "had surgery in march, fainted") == "emergency"
    assert got(content.language, "me operaron en marzo, me desmayé") == "emergency"
    assert got(content.language, "la opresión en el pecho me duró una semana y sigue ahí") == "emergency"


def test_denied_signs_are_reported(content: Content) -> None:
    result = content.language.screen("I'm not short of breath, I was quoting the nurse")
    assert result.interrupt is None
    assert result.denied == ("short_of_breath",)


def test_nothing_to_report(content: Content) -> None:
    assert content.language.screen("") == Screen(None, (), ())
    assert content.language.screen("my knee aches after running") == Screen(None, (), ())


def test_invisible_characters_and_repeated_letters(content: Content) -> None:
    assert got(content.language, "I can\u200bt bre\u00adathe") == "emergency"
    assert got(content.language, "sooo breathlesssss") == "emergency"
    assert got(content.language, "\U0001f62d chest pain \U0001f62d") == "emergency"


def test_a_long_message_is_screened_to_its_end(content: Content) -> None:
    """Nothing cuts a message before the screen: a red flag after 60 KB of chatter is found."""
    chatter = "my knee is a bit stiff and I was wondering about the exercises. " * 1000
    assert len(chatter) > 60_000
    assert got(content.language, chatter + "Also I coughed up blood") == "emergency"
    assert got(content.language, chatter) == "none"


def test_short_answers_are_remembered_and_long_texts_never(content: Content) -> None:
    screener = content.language.red_flags
    assert screener is not None
    remembered = screener._short.cache_info().currsize  # type: ignore[attr-defined]
    for answer in ("2 and 41", "yes yes 17", "not sure 93", "nah 55"):
        assert screener.screen(answer) == screener.screen(answer)
    assert screener._short.cache_info().currsize > remembered  # type: ignore[attr-defined]
    before = screener._short.cache_info().currsize  # type: ignore[attr-defined]
    screener.screen("a message longer than sixteen characters about my knee")
    assert screener._short.cache_info().currsize == before  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_screen_never_raises(content: Content, text: str) -> None:
    assert content.language.screen(text).interrupt in (None, "emergency", "urgent", "crisis", "confirm")


SOUP = "no not chest pain breath short of cannot , . ? but and or me falta aire sangre tos calf swollen years ago if i"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*SOUP.split(" "), "kill", "myself", "¿", "ni", "#", "without", "what", "if"])))
def test_screen_never_raises_on_keyword_soup(content: Content, words: list[str]) -> None:
    assert isinstance(content.language.screen(" ".join(words)), Screen)


# --- the table and the vocabulary files -----------------------------------------------------------------


def test_every_red_flag_is_documented(content: Content) -> None:
    for flag in content.red_flags.flags:
        assert flag.source.strip(), flag.id
        assert flag.description.strip(), flag.id
        assert flag.finding is None or flag.finding in BOOLEAN_FINDINGS, flag.id


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_red_flag_has_phrases_a_reason_and_a_question_in_each_locale(content: Content, locale: str) -> None:
    catalog = content.catalog
    for flag in content.red_flags.flags:
        assert content.vocabularies[locale].red_flags.flags.get(flag.id), f"{locale}: no phrases for {flag.id}"
        reason, question = catalog.raw(f"flag.{flag.id}", locale), catalog.raw(f"confirm.{flag.id}", locale)
        assert reason.strip() and len(reason) < 120, f"{locale}: flag.{flag.id}"
        assert question.rstrip().endswith("?"), f"{locale}: confirm.{flag.id}"
        if locale == "en":
            assert reason.isascii() and question.isascii(), flag.id


def test_two_halves_count_together_in_either_order_within_one_part_of_a_sentence(content: Content) -> None:
    """An "A & B" phrase: a danger word and a symptom word anywhere in the same part of a sentence, with negation,
    history and questions read as for any phrase."""
    assert got(content.language, "a tight horrible feeling right across the middle of my chest") == "emergency"
    assert got(content.language, "my chest has honestly been feeling really really tight") == "emergency"
    assert got(content.language, "no tight feeling in my chest at all") == "none"
    assert got(content.language, "my chest is fine, the pain is all in my knee") == "none"
    assert got(content.language, "a tight chest years ago") == "none"


def test_a_phrase_joins_two_halves_at_most() -> None:
    from pydantic import ValidationError

    from bot.triage.red_flag_words import Trigger

    with pytest.raises(ValidationError, match="one ' & '"):
        Trigger(say=("a & b & c",))


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key written twice in one mapping: PyYAML keeps the last silently, so a second `unless:` under a
    trigger would drop the phrases of the first."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    if twice := sorted({k for k in keys if keys.count(k) > 1}, key=str):
        raise yaml.constructor.ConstructorError(None, None, f"keys written twice: {twice}", node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@pytest.mark.parametrize("path", sorted((ROOT / "locales").glob("*/vocabulary/*.yaml")), ids=str)
def test_no_vocabulary_file_writes_a_key_twice(path: Path) -> None:
    yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


@pytest.mark.parametrize("locale", ["en", "es"])
def test_an_optional_part_is_written_in_brackets(content: Content, locale: str) -> None:
    """ "(a|b)?" is not optional in the phrase language: the "?" is a question mark the message must hold."""
    words = content.vocabularies[locale].red_flags
    phrases = [p for triggers in words.flags.values() for t in triggers for p in (*t.say, *t.ask, *t.unless)]
    assert not [p for p in phrases if ")?" in p]


def test_a_sign_listed_with_and_after_a_past_one_is_past_too(content: Content) -> None:
    """ "a chest infection in January that left me wheezy and short of breath": the same past, listed; a sign said as
    new after the "and" still counts."""
    screen = content.language.screen
    assert screen("I had a chest infection in January that left me wheezy and short of breath").interrupt is None
    assert screen("had a clot years ago and short of breath now").interrupt == "emergency"
    # recall7 calm2: listed after a sign that continues a dated clause ("..., had hives and swollen lips")
    text = "she had a reaction in 2019 after a party, had hives and swollen lips"
    assert screen(text).interrupt is None
    assert (
        screen("she had a reaction in 2019 after a party, had hives and swollen lips again today").interrupt
        == "emergency"
    )
    assert screen("I had a DVT in 2019 and chest pain since this morning").interrupt == "emergency"


def test_a_phrase_spanning_an_and_is_excused_in_any_of_its_parts(content: Content) -> None:
    """ "toes went white and numb in the ski boots": the boots excuse the whole phrase, across its "and"."""
    screen = content.language.screen
    assert screen("Toes went white and numb in the ski boots, warmed up in the lodge, all pink").interrupt is None
    assert screen("toes went white and numb and cold, no boots on").interrupt == "emergency"


def test_the_knee_being_worse_is_no_news_of_a_sign_said_as_usual(content: Content) -> None:
    """ "out of breath on the big hill as per usual, the ache behind my knee is worse": what is worse is the knee, so
    the baseline stands; a sign itself said to be worse, or new, still counts."""
    screen = content.language.screen
    text = "out of breath on the big hill as per usual the ache behind my knee is worse after though"
    assert screen(text).interrupt is None
    assert screen("me ahogo en la cuesta como siempre lo de la rodilla esta peor").interrupt is None
    assert screen("out of breath on the stairs like always, it is my knee that is worse this week").interrupt is None
    assert screen("out of breath on the stairs as per usual but it is worse today").interrupt == "emergency"
    assert screen("breathless as always but now it is much worse and my knee is worse too").interrupt == "emergency"


def test_a_negative_sign_followed_by_its_nothing_is_not_denied(content: Content) -> None:
    """ "no puedo orinar nada" is one negative (Spanish negative concord), not a sign answered "nada"; an answer after
    a question mark or a colon still denies."""
    screen = content.language.screen
    assert screen("desde esta mañana no puedo orinar nada").interrupt == "emergency"
    assert screen("dolor de pecho: nada").interrupt is None
    assert screen("chest pain? none").interrupt is None
