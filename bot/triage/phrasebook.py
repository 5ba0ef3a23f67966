"""The words answers are given in (locales/<lang>/vocabulary/answers.yaml), one phrase set for every locale. Pure.

Each locale's file is checked against `AnswersFile`; `Phrasebook.build` compiles all locales (and every choice label
of every catalog) into one PhraseSet, found in one pass over a message's tokens. A hit's key says what it is:
`choice` (keyed by a choice's message key), `command`, `number`, `unit`... (see `Kind`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from bot.triage.lexicon import Hit, PhraseError, PhraseSet
from bot.triage.text import PUNCTUATION, clean, split_words

Phrases = tuple[str, ...]
Unit = Literal["minute", "hour", "day", "week", "fortnight", "month", "year"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
COMMANDS = (
    "stop", "start", "restart", "back", "help", "language", "language:en", "language:es", "human", "delete", "tips",
    "country",
)  # fmt: skip
SHARED_CHOICES = ("choice.yes", "choice.no", "choice.none", "choice.unsure")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _numeric_keys(value: dict[str, Phrases]) -> dict[str, Phrases]:
    for key in value:
        try:
            float(key)
        except ValueError:
            raise ValueError(f"{key!r} is not a number") from None
    return value


class NumberWords(_Section):
    values: dict[str, Phrases] = {}  # "7": seven, siete; "2": a couple [of]
    article: Phrases = ()  # "a", "an": one, but only just before a unit ("a week")
    half: Phrases = ()  # "and a half", "y medio": half a unit more
    joiner: Phrases = ()  # "and", "y" inside a number written in words: "treinta y cuatro"
    ordinals: dict[str, Phrases] = {}  # "1": [the] first [one]: a choice by its place in the list

    _numbers = field_validator("values", "ordinals")(_numeric_keys)


class DurationWords(_Section):
    units: dict[Unit, Phrases] = {}
    last: Phrases = ()  # "last week", "la semana pasada": one unit back
    spans: dict[str, Phrases] = {}  # days said in words: "1": [since] yesterday
    weekdays: dict[Weekday, Phrases] = {}  # "since Tuesday": counted back from the conversation's clock
    vague: Phrases = ()  # "a while", "ages": ask for a number

    _numbers = field_validator("spans")(_numeric_keys)


class AgeWords(_Section):
    before: Phrases = ()  # the age follows: "i am", "tengo"
    after: Phrases = ()  # the age came before: "old", "de edad"
    born: Phrases = ()  # a year of birth follows: "born in"
    vague: Phrases = ()  # "in his seventies": ask for the age in years


class ScoreWords(_Section):
    out_of: Phrases = ()  # "7 out of 10", "7 de 10"
    values: dict[str, Phrases] = {}  # "0": no pain
    vague: Phrases = ()  # "really bad": ask for a number

    _numbers = field_validator("values")(_numeric_keys)


class Negation(_Section):
    words: Phrases = ()  # deny the answer words after them in their clause: "not swollen"
    carried_by: Phrases = ()  # the denial goes on past these: "no fever or chills"
    broken_by: Phrases = ()  # a denial or a doubt ends here: "not swollen but red"


class AnswersFile(_Section):
    """locales/<lang>/vocabulary/answers.yaml: the words each answer may be given in, in one language."""

    classes: dict[str, Phrases] = {}  # word classes the phrases below may use as {name}
    choices: dict[str, Phrases] = {}  # by a choice's label key (choice.yes) or own key (intake.walk.yes)
    negation: Negation = Negation()
    idioms: Phrases = ()  # hold answer words but are no answer: "no problem"
    fillers: Phrases = ()  # around a number or a command, they change nothing: "please", "option"
    joins: Phrases = ()  # between several answers: "1 and 2", "1 or 2"
    help: Phrases = ()  # a question about the question, anywhere in the message
    help_alone: Phrases = ()  # the same, only as the whole message: "what?"
    commands: dict[str, Phrases] = {}  # whole messages only; keys are COMMANDS
    numbers: NumberWords = NumberWords()
    durations: DurationWords = DurationWords()
    age: AgeWords = AgeWords()
    score: ScoreWords = ScoreWords()
    keep: Phrases = ()  # real words the speller must never turn into an answer word

    @field_validator("commands")
    @classmethod
    def _known_commands(cls, value: dict[str, Phrases]) -> dict[str, Phrases]:
        unknown = sorted(set(value) - set(COMMANDS))
        if unknown:
            raise ValueError(f"unknown commands {unknown}; known: {', '.join(COMMANDS)}")
        return value


Kind = Literal[
    "choice", "label", "negation", "carried_by", "broken_by", "idiom", "filler", "join", "help", "help_alone",
    "command", "number", "article", "half", "joiner", "ordinal", "unit", "last", "span", "weekday", "duration_vague",
    "age_before", "age_after", "born", "age_vague", "out_of", "score", "score_vague",
]  # fmt: skip


@dataclass(frozen=True)
class Found:
    """A phrase of `kind` (its `key`: a message key, a command, a value...) at tokens [start, end)."""

    kind: Kind
    key: str
    start: int
    end: int

    def within(self, other: Found) -> bool:
        """Strictly inside `other`: a longer phrase said it ("not sure" holds "sure")."""
        longer = other.end - other.start > self.end - self.start
        return longer and other.start <= self.start and self.end <= other.end


_PLAIN = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")


class Phrasebook:
    """Every locale's answer words, compiled: `find` lists every phrase in a message's tokens."""

    def __init__(
        self,
        files: Mapping[str, AnswersFile],
        phrases: PhraseSet,
        labels: PhraseSet,
        exact: Mapping[str, frozenset[str]],
    ) -> None:
        self.files = dict(files)  # each locale's file as read, for the content checks
        self._phrases, self._labels = phrases, labels
        self.exact = exact  # a whole message that is one plain choice phrase -> its choice keys: the cheap path
        self.keep = frozenset(w for file in files.values() for w in file.keep)

    @classmethod
    def empty(cls) -> Phrasebook:
        return cls.build({}, {}, {})

    @classmethod
    def build(
        cls,
        files: Mapping[str, AnswersFile],
        labels: Mapping[str, Mapping[str, str]],
        shorthand: Mapping[str, str],
    ) -> Phrasebook:
        """`labels`: locale -> choice label key -> text (labels count as words for their choice)."""
        merged: dict[str, list[str]] = {}
        classes: dict[str, list[str]] = {}
        for locale, file in sorted(files.items()):
            own = _phrases(file)
            try:
                PhraseSet(own, file.classes)  # a phrase that cannot be read is named with its file
            except PhraseError as e:
                raise ValueError(f"{locale}/vocabulary/answers.yaml: {e}") from None
            for phrase in (p for ps in own.values() for p in ps if p.endswith("]")):
                why = "never matches (a phrase matches as little as it can): write the phrase with and without it"
                raise ValueError(
                    f"{locale}/vocabulary/answers.yaml: {phrase!r} ends with an optional part, which {why}"
                )
            for key, phrases in own.items():
                merged.setdefault(key, []).extend(phrases)
            for name, members in file.classes.items():
                classes.setdefault(name, []).extend(members)
        label_phrases: dict[str, list[str]] = {}
        for texts in labels.values():
            for key, text in texts.items():
                phrase = label_phrase(text, shorthand)
                if phrase:
                    label_phrases.setdefault(key, []).append(phrase)
        other = {p for key, ps in merged.items() if not key.startswith("choice\x1f") for p in ps}
        exact: dict[str, set[str]] = {}
        for key, phrases in merged.items():
            kind, _, inner = key.partition("\x1f")
            for phrase in phrases if kind == "choice" else ():
                if _PLAIN.fullmatch(phrase) and phrase not in other:
                    exact.setdefault(phrase, set()).add(inner)
        # One key per phrase: the search reports one match per key and start, and "not sure" must be found whole
        # beside "not" and "sure" so that the longest phrase can win.
        each = {f"{key}\x1f{n}": [phrase] for key, phrases in merged.items() for n, phrase in enumerate(phrases)}
        return cls(
            files,
            PhraseSet(each, classes),
            PhraseSet(label_phrases),
            {text: frozenset(keys) for text, keys in exact.items()},
        )

    @property
    def phrase_sets(self) -> tuple[PhraseSet, ...]:
        """What the speller corrects towards: the curated phrases. Label words are known words instead (`known`): a
        label's every word is no target for a typo ("sneezing" must not pull "sleeping" towards it)."""
        return (self._phrases,)

    @property
    def known(self) -> frozenset[str]:
        return self._labels.words

    def find(self, tokens: Sequence[str]) -> list[Found]:
        """Every phrase in the tokens, labels matched over the words alone (a label's commas are not typed)."""
        found = [_found(hit) for hit in self._phrases.find(tokens, longest=True)]
        where = [i for i, token in enumerate(tokens) if token not in PUNCTUATION]
        words = [tokens[i] for i in where]
        for hit in self._labels.find(words, longest=True):
            found.append(Found("label", hit.key, where[hit.start], where[hit.end - 1] + 1))
        return found


def _found(hit: Hit) -> Found:
    kind, key, _ = hit.key.split("\x1f")
    return Found(kind, key, hit.start, hit.end)  # type: ignore[arg-type]  # kinds are the ones _phrases wrote


def _phrases(file: AnswersFile) -> dict[str, list[str]]:
    """The file's phrases keyed `kind\\x1fkey`: one phrase set holds every kind."""
    out: dict[str, list[str]] = {}

    def add(kind: Kind, key: str, phrases: Iterable[str]) -> None:
        out.setdefault(f"{kind}\x1f{key}", []).extend(p.strip().lower() for p in phrases)

    for key, phrases in file.choices.items():
        add("choice", key, phrases)
    add("negation", "", file.negation.words)
    add("carried_by", "", file.negation.carried_by)
    add("broken_by", "", file.negation.broken_by)
    add("idiom", "", file.idioms)
    add("filler", "", file.fillers)
    add("join", "", file.joins)
    add("help", "", file.help)
    add("help_alone", "", file.help_alone)
    for key, phrases in file.commands.items():
        add("command", key, phrases)
    numbers, durations = file.numbers, file.durations
    for key, phrases in numbers.values.items():
        add("number", f"{float(key):g}", phrases)
    add("article", "1", numbers.article)
    add("half", "0.5", numbers.half)
    add("joiner", "", numbers.joiner)
    for key, phrases in numbers.ordinals.items():
        add("ordinal", f"{float(key):g}", phrases)
    for unit, phrases in durations.units.items():
        add("unit", unit, phrases)
    add("last", "", durations.last)
    for key, phrases in durations.spans.items():
        add("span", f"{float(key):g}", phrases)
    for day, phrases in durations.weekdays.items():
        add("weekday", day, phrases)
    add("duration_vague", "", durations.vague)
    add("age_before", "", file.age.before)
    add("age_after", "", file.age.after)
    add("born", "", file.age.born)
    add("age_vague", "", file.age.vague)
    add("out_of", "", file.score.out_of)
    for key, phrases in file.score.values.items():
        add("score", f"{float(key):g}", phrases)
    add("score_vague", "", file.score.vague)
    return {key: phrases for key, phrases in out.items() if phrases}


def label_phrase(text: str, shorthand: Mapping[str, str]) -> str:
    """A label's words as a phrase: read as a message is (shorthand expanded, apostrophes dropped), punctuation and
    signs left out."""
    words: list[str] = []
    for raw in split_words(clean(text)):
        meant = shorthand.get(raw) or shorthand.get(raw.replace("'", "")) or raw
        words.extend(w.replace("'", "") for w in split_words(meant))
    return " ".join(w for w in words if re.fullmatch(r"[a-z0-9]+", w))
