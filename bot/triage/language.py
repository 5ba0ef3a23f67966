"""What the core knows of the languages people write in, built once at start-up from every locale's vocabulary. Pure.

The vocabulary files (locales/<lang>/vocabulary/*.yaml) are read and validated by bot.content against the models
here; `build_language` turns them into the objects the engine matches messages with. Every message is read with all
locales at once: people mix languages ("tengo el calf swollen"), so a locale only chooses the language of the replies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from bot.triage.lexicon import Lexicon, PhraseSet
from bot.triage.phrasebook import AnswersFile, Phrasebook
from bot.triage.red_flag_words import RedFlagWords
from bot.triage.red_flags import RedFlagTable, RedFlagVocabulary, Screen, Screener


class WordsFile(BaseModel):
    """locales/<lang>/vocabulary/words.yaml: how people shorten and spell, in one language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A word as typed (apostrophes kept) -> what it stands for: "cant" -> "cannot", "xq" -> "porque".
    shorthand: dict[str, str] = {}
    # Real words that are one or two letters from a vocabulary word and must never be corrected into it.
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """One locale's vocabulary files, validated (bot.content builds one per locale folder)."""

    locale: str
    words: WordsFile
    answers: AnswersFile = AnswersFile()
    red_flags: RedFlagWords = RedFlagWords()


@dataclass(frozen=True)
class Language:
    """The reader every message goes through, with the phrase sets built from the same vocabulary: the words of
    every answer (bot.triage.matching) and, when the language was built with the red-flag table, the screen."""

    lexicon: Lexicon
    answers: Phrasebook = field(default_factory=Phrasebook.empty)
    red_flags: Screener | None = None

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
) -> Language:
    """One Language for all locales: the shorthand and kept words of every locale, and spelling corrected towards
    every word any phrase set uses (the answers' and, when the table is given, the red-flag phrases'). `labels`
    (locale -> choice label key -> text) count as words for their choice; `known` words (every word kneebot itself
    writes) are real words, never corrected into another. `spelling=False` reads words as typed, to measure what the
    correction adds."""
    flags = RedFlagVocabulary(red_flags, {v.locale: v.red_flags for v in vocabularies.values()}) if red_flags else None
    if flags is not None:
        phrase_sets = (*phrase_sets, *flags.phrase_sets, flags.answers)
    shorthand: dict[str, str] = {}
    keep: set[str] = set(flags.keep) if flags else set()
    for locale, vocabulary in sorted(vocabularies.items()):
        for typed, meant in vocabulary.words.shorthand.items():
            if shorthand.setdefault(typed, meant) != meant:
                elsewhere = shorthand[typed]
                raise ValueError(f"{locale}: shorthand {typed!r} means {meant!r} here, {elsewhere!r} elsewhere")
        keep.update(vocabulary.words.keep)
    answers = Phrasebook.build({locale: v.answers for locale, v in vocabularies.items()}, labels or {}, shorthand)
    keep.update(answers.keep, answers.known, known)
    screened = phrase_sets
    answered = (*phrase_sets, *answers.phrase_sets)
    words = frozenset().union(*(p.words for p in (*screened, *answered)))
    short = flags.short_words if flags else ()
    sounds = flags.sounds if flags else ()

    def reader(served: tuple[PhraseSet, ...]) -> Lexicon:
        # Spelling is corrected towards every whole word either reader knows, but only the stems of the phrases a
        # reader serves leave a word as typed: an answer's stem ("colaps*") must not keep the screen from reading
        # "colapsed" as the word its phrases spell out.
        stems = frozenset().union(*(p.stems for p in served))
        return Lexicon(words, shorthand, stems=stems, keep=keep, spelling=spelling, short=short, sounds=sounds)

    return Language(reader(answered), answers, Screener(flags, reader(screened)) if flags else None)
