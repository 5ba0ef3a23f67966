"""locales/<lang>/vocabulary/findings.yaml, checked and compiled: the words that state a finding without being asked
("fell off my bike", "32 weeks pregnant", "I'm 34"), read beside the red-flag file's context words. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, field_validator

from bot.triage.findings import BOOLEAN_FINDINGS, Findings
from bot.triage.lexicon import Hit, PhraseError, PhraseSet
from bot.triage.red_flag_words import RedFlagWords

Phrases = tuple[str, ...]
NUMBER_FINDINGS = ("age", "duration_days", "pain_score")
# Findings with a value of words, said as "name=value" ("onset=sudden").
VALUE_FINDINGS: Mapping[str, tuple[str, ...]] = {"onset": ("sudden", "gradual")}


def said_key(key: str) -> str:
    """The message that says a finding back to the person: "trauma" -> said.trauma, "onset=sudden" ->
    said.onset.sudden."""
    return "said." + key.replace("=", ".")


def finding_key(name: str, value: object) -> str:
    """The key a finding is filed under in findings.yaml's `said`: the name, or "name=value" for a value of words."""
    return f"{name}={value}" if name in VALUE_FINDINGS else name


class FindingsFile(BaseModel):
    """One language's words for findings volunteered in free text. Phrases are in the lexicon's pattern language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classes: dict[str, Phrases] = {}
    # A yes/no finding ("trauma") or a finding with a value ("onset=sudden") -> phrases that state it.
    said: dict[str, Phrases] = {}
    # A number finding (age, duration_days, pain_score) -> phrases around the number ("i am #0-120"): the words a
    # phrase covers are read as the question for that finding reads its answer.
    numbers: dict[str, Phrases] = {}
    # Findings that still count said of the past: a clot or cancer years ago is a risk factor, an old fall is no
    # injury now.
    ever: tuple[str, ...] = ()

    @field_validator("said")
    @classmethod
    def _known(cls, value: dict[str, Phrases]) -> dict[str, Phrases]:
        for key in value:
            name, _, meant = key.partition("=")
            if meant and meant not in VALUE_FINDINGS.get(name, ()):
                raise ValueError(f"{key!r}: {name!r} takes no value {meant!r}")
            if not meant and name not in BOOLEAN_FINDINGS:
                raise ValueError(f"{key!r} is not a yes/no finding (a value is written name=value)")
        return value

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, value: dict[str, Phrases]) -> dict[str, Phrases]:
        unknown = sorted(set(value) - set(NUMBER_FINDINGS))
        if unknown:
            raise ValueError(f"{unknown} are not number findings ({', '.join(NUMBER_FINDINGS)})")
        return value

    @field_validator("ever")
    @classmethod
    def _ever(cls, value: Phrases) -> Phrases:
        unknown = sorted(set(value) - set(Findings.model_fields))
        if unknown:
            raise ValueError(f"ever: {unknown} are not findings")
        return value


@dataclass(frozen=True)
class Found:
    """A message's phrases by kind ("said", "number", "context") and key."""

    said: Mapping[str, list[Hit]] = field(default_factory=dict)
    numbers: Mapping[str, list[Hit]] = field(default_factory=dict)
    context: Mapping[str, list[Hit]] = field(default_factory=dict)


class FindingPhrases:
    """Every language's finding words compiled, each language with its own context words and word classes (from its
    red-flag file, which the screen reads with: negation, history, someone else, hypotheticals)."""

    def __init__(self, files: Mapping[str, FindingsFile], screens: Mapping[str, RedFlagWords]) -> None:
        self.files = dict(files)
        stated: list[PhraseSet] = []
        numbers: list[PhraseSet] = []
        for locale, file in sorted(files.items()):
            screen = screens.get(locale, RedFlagWords())
            classes = _classes(locale, screen.classes, file.classes)
            phrases: dict[str, Sequence[str]] = {f"said|{k}": v for k, v in file.said.items() if v}
            if phrases or any(file.numbers.values()):
                phrases.update({f"context|{name}": listed for name, listed in screen.context if listed})
            try:
                stated.append(PhraseSet(phrases, classes))
                numbers.append(PhraseSet({k: v for k, v in file.numbers.items() if v}, classes))
            except PhraseError as e:
                raise ValueError(f"{locale}/vocabulary/findings.yaml: {e}") from None
        self._stated, self._numbers = tuple(stated), tuple(numbers)
        self.ever = frozenset(name for file in files.values() for name in file.ever)

    @classmethod
    def empty(cls) -> FindingPhrases:
        return cls({}, {})

    @property
    def phrase_sets(self) -> tuple[PhraseSet, ...]:
        """What the speller corrects towards (and whose stems leave a word as typed)."""
        return (*self._stated, *self._numbers)

    def find(self, tokens: Sequence[str]) -> Found:
        said: dict[str, list[Hit]] = {}
        context: dict[str, list[Hit]] = {}
        for phrases in self._stated:
            for hit in phrases.find(tokens):
                kind, _, key = hit.key.partition("|")
                (said if kind == "said" else context).setdefault(key, []).append(hit)
        numbers: dict[str, list[Hit]] = {}
        for phrases in self._numbers:
            for hit in phrases.find(tokens, longest=True):  # "i am thirty four", not "i am thirty"
                numbers.setdefault(hit.key, []).append(hit)
        return Found(said, numbers, context)


def _classes(locale: str, screen: Mapping[str, Phrases], own: Mapping[str, Phrases]) -> dict[str, Phrases]:
    """The red-flag file's word classes (its context phrases use them) and the findings file's own."""
    clash = sorted(name for name in own.keys() & screen.keys() if tuple(own[name]) != tuple(screen[name]))
    if clash:
        raise ValueError(f"{locale}/vocabulary/findings.yaml: classes {clash} differ from redflags.yaml's")
    return {**screen, **own}
