"""What the core knows of the languages people write in, built once at start-up from every locale's vocabulary. Pure.

The vocabulary files (locales/<lang>/vocabulary/*.yaml) are read and validated by bot.content against the models
here; `build_language` turns them into the objects the engine matches messages with. Every message is read with all
locales at once: people mix languages ("tengo el calf swollen"), so a locale only chooses the language of the replies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from bot.triage.finding_words import FindingPhrases, FindingsFile
from bot.triage.lexicon import Lexicon, PhraseSet
from bot.triage.phrasebook import AnswersFile, Phrasebook
from bot.triage.red_flag_words import RedFlagWords
from bot.triage.red_flags import RedFlagTable, RedFlagVocabulary, Screen, Screener

MIN_OWN_WORDS = 2
CLEAR_MAJORITY = 3
_PHRASE_WORD = re.compile(r"(?<![{#*\w])[a-z]+(?![*}\w])")  # a whole word of a phrase: no stem, class or range


class WordsFile(BaseModel):
    """locales/<lang>/vocabulary/words.yaml: how people shorten and spell, in one language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A word as typed (apostrophes kept) -> what it stands for: "cant" -> "cannot", "xq" -> "porque".
    shorthand: dict[str, str] = {}
    # Real words that are one or two letters from a vocabulary word and must never be corrected into it.
    keep: tuple[str, ...] = ()
    # Units and endings typed straight after a number ("10k", "100m", "2nd"): read as typed there, never as shorthand.
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """One locale's vocabulary files, validated (bot.content builds one per locale folder)."""

    locale: str
    words: WordsFile
    answers: AnswersFile = AnswersFile()
    red_flags: RedFlagWords = RedFlagWords()
    findings: FindingsFile = FindingsFile()


@dataclass(frozen=True)
class Language:
    """The reader every message goes through, with the phrase sets built from the same vocabulary: the words of
    every answer (bot.triage.matching) and, when the language was built with the red-flag table, the screen."""

    lexicon: Lexicon
    answers: Phrasebook = field(default_factory=Phrasebook.empty)
    red_flags: Screener | None = None
    findings: FindingPhrases = field(default_factory=FindingPhrases.empty)
    # Each locale's own words (in its vocabulary and messages, and in no other locale's): what a message is written in.
    own_words: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def written_in(self, tokens: Sequence[str]) -> str | None:
        """The locale a message is clearly written in, by the words only that locale uses: two or more of them and
        none of another's, or three times as many as any other. None when it is short or mixed ("ok", "si")."""
        counts = {locale: len(words.intersection(tokens)) for locale, words in self.own_words.items()}
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        if not ranked or ranked[0][1] < MIN_OWN_WORDS:
            return None
        best, runner_up = ranked[0][1], (ranked[1][1] if len(ranked) > 1 else 0)
        if runner_up == 0 or best >= CLEAR_MAJORITY * runner_up:
            return ranked[0][0]
        return None

    def screen(self, text: str) -> Screen:
        """Screen one message for red flags, in every language at once."""
        if self.red_flags is None:
            raise ValueError("this Language was built without the red-flag table: it cannot screen")
        return self.red_flags.screen(text)


def build_language(
    vocabularies: Mapping[str, Vocabulary],
    phrase_sets: tuple[PhraseSet, ...] = (),
    *,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    known: Iterable[str] = (),
    red_flags: RedFlagTable | None = None,
    spelling: bool = True,
    messages: Mapping[str, Iterable[str]] | None = None,
) -> Language:
    """One Language for all locales: the shorthand and kept words of every locale, and spelling corrected towards
    every word any phrase set uses (the answers' and, when the table is given, the red-flag phrases'). `labels`
    (locale -> choice label key -> text) count as words for their choice; `known` words (every word kneebot itself
    writes) are real words, never corrected into another. `spelling=False` reads words as typed, to measure what the
    correction adds. `messages`: each locale's words in its message catalog (with its vocabulary, they tell which
    language a message is written in)."""
    flags = RedFlagVocabulary(red_flags, {v.locale: v.red_flags for v in vocabularies.values()}) if red_flags else None
    if flags is not None:
        phrase_sets = (*phrase_sets, *flags.phrase_sets, *flags.longest_sets, flags.answers)
    shorthand: dict[str, str] = {}
    keep: set[str] = set(flags.keep) if flags else set()
    units: set[str] = set()
    for locale, vocabulary in sorted(vocabularies.items()):
        for typed, meant in vocabulary.words.shorthand.items():
            if shorthand.setdefault(typed, meant) != meant:
                elsewhere = shorthand[typed]
                raise ValueError(f"{locale}: shorthand {typed!r} means {meant!r} here, {elsewhere!r} elsewhere")
        keep.update(vocabulary.words.keep)
        units.update(vocabulary.words.units)
    answers = Phrasebook.build({locale: v.answers for locale, v in vocabularies.items()}, labels or {}, shorthand)
    keep.update(answers.keep, answers.known, known)
    said = FindingPhrases(
        {v.locale: v.findings for v in vocabularies.values()}, {v.locale: v.red_flags for v in vocabularies.values()}
    )
    screened = phrase_sets
    answered = (*phrase_sets, *answers.phrase_sets, *said.phrase_sets)
    words = frozenset().union(*(p.words for p in (*screened, *answered)))
    # The screen's speller knows no finding words: a typo of a red-flag word ("pantorila") must be corrected as the
    # screen's phrases spell it, never towards a finding's word.
    screen_words = frozenset().union(*(p.words for p in (*screened, *answers.phrase_sets)))
    short = flags.short_words if flags else ()
    sounds = flags.sounds if flags else ()

    def reader(served: tuple[PhraseSet, ...], vocabulary: frozenset[str]) -> Lexicon:
        # Spelling is corrected towards every whole word either reader knows, but only the stems of the phrases a
        # reader serves leave a word as typed: an answer's stem ("colaps*") must not keep the screen from reading
        # "colapsed" as the word its phrases spell out.
        stems = frozenset().union(*(p.stems for p in served))
        return Lexicon(
            vocabulary, shorthand, stems=stems, keep=keep, spelling=spelling, short=short, sounds=sounds, units=units
        )

    screener = Screener(flags, reader(screened, screen_words)) if flags else None
    return Language(reader(answered, words), answers, screener, said, _own_words(vocabularies, messages or {}))


def _own_words(
    vocabularies: Mapping[str, Vocabulary], messages: Mapping[str, Iterable[str]]
) -> dict[str, frozenset[str]]:
    """Each locale's words found in no other locale: from its vocabulary files' phrases and its messages."""
    words: dict[str, set[str]] = {}
    for locale, vocabulary in vocabularies.items():
        found = words.setdefault(vocabulary.locale, set(messages.get(locale, ())))
        for model in (vocabulary.answers, vocabulary.red_flags, vocabulary.findings):
            found.update(w for text in _strings(model.model_dump()) for w in _PHRASE_WORD.findall(text))
        found.update(w for meant in vocabulary.words.shorthand.values() for w in meant.split())

    def elsewhere(word: str, locale: str) -> bool:
        return any(word in other for name, other in words.items() if name != locale)

    return {
        locale: frozenset(w for w in own if len(w) > 1 and not elsewhere(w, locale)) for locale, own in words.items()
    }


def _strings(data: object) -> Iterable[str]:
    """Every string value in a dumped model (phrases), not the keys (message keys, names)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _strings(value)
