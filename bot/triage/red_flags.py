"""The always-on red-flag screen: what each flag means (flows/redflags.yaml), how each language says it
(locales/<lang>/vocabulary/redflags.yaml), and the reading of a message against both. Pure: no I/O.

Every message is read with every language at once (people mix them), through the one Lexicon (shorthand, spelling),
and each phrase found is weighed where it stands (bot/triage/clauses.py). A flag said clearly interrupts at once; one
only asked about, supposed, or said weakly gets `interrupt: "confirm"`: one yes/no question about the sign first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.triage.clauses import Reading, Status
from bot.triage.lexicon import Hit, Lexicon, PhraseSet, Sounds
from bot.triage.red_flag_words import RedFlagWords, Trigger
from bot.triage.text import PUNCTUATION, SHORT_TEXT

Interrupt = Literal["emergency", "urgent", "crisis"]
Outcome = Literal["emergency", "urgent", "crisis", "confirm"]
Answer = Literal["yes", "no", "not_sure"]

PRIORITY: dict[str, int] = {"urgent": 1, "emergency": 2, "crisis": 3}
# "A & B": both halves in the same part of a sentence, in either order (red_flag_words.Trigger).
TOGETHER, FIRST, SECOND = " & ", "_first", "_second"
# Context lists read by their longest reading, where the words after a phrase matter ("that's normal [for me]" must
# close its clause; "my knee is worse [this week]" covers its time words; a denial with its tail, "none eh", must reach
# the clause's end; "but now I have [it]" too): a small phrase set of their own.
LONGEST = ("baseline_after", "not_newness", "denials", "reaffirmed")
SHORT_RESULTS = 4096  # short texts remembered
# The answer to a safety question by the number of its choice (SMS), in the order of bot.triage.safety.ANSWERS.
NUMBERED: Mapping[str, Answer] = {"1": "yes", "2": "no", "3": "not_sure"}


class RedFlag(BaseModel):
    """One row of flows/redflags.yaml: a red flag, the interrupt it gives, the finding it establishes, its source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    interrupt: Interrupt
    finding: str | None = None
    source: str = Field(min_length=1)
    description: str = Field(min_length=1)


class RedFlagTable(BaseModel):
    """flows/redflags.yaml: the red flags, in the order their reasons are given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    flags: tuple[RedFlag, ...]

    @model_validator(mode="after")
    def _unique(self) -> RedFlagTable:
        ids = [f.id for f in self.flags]
        if dup := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"red flags defined twice: {', '.join(dup)}")
        return self

    def get(self, flag_id: str) -> RedFlag:
        return next(f for f in self.flags if f.id == flag_id)

    def level(self, flag_ids: tuple[str, ...]) -> Interrupt | None:
        """The highest interrupt among these flags."""
        best: Interrupt | None = None
        for flag_id in flag_ids:
            level = self.get(flag_id).interrupt
            if best is None or PRIORITY[level] > PRIORITY[best]:
                best = level
        return best


@dataclass(frozen=True)
class Screen:
    """`matched`: the flags that produced `interrupt` (for "confirm", the signs to ask about). `findings`: what the
    matched flags establish. `mentioned`: signs only asked about or supposed beside a clear interrupt (worth the same
    yes/no question). `denied`: signs said and denied ("I'm not short of breath"). `someone_else`: the matched crisis
    flags said only of another person ("my son wants to kill himself")."""

    interrupt: Outcome | None
    matched: tuple[str, ...]
    findings: tuple[str, ...]
    mentioned: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    someone_else: tuple[str, ...] = ()


NOTHING = Screen(None, (), ())


@dataclass(frozen=True)
class _Trigger:
    flag: str
    trigger: Trigger


class RedFlagVocabulary:
    """Every language's red-flag words compiled into phrase sets, one per language (word classes are a language's
    own). Built before the Lexicon, which corrects spelling towards the words these phrases use."""

    def __init__(self, table: RedFlagTable, words: Mapping[str, RedFlagWords]) -> None:
        self.table = table
        self.words = dict(words)
        self.triggers: dict[str, _Trigger] = {}
        sets: list[PhraseSet] = []
        longest: list[PhraseSet] = []
        answers: dict[str, list[str]] = {"yes": [], "no": [], "not_sure": []}
        fillers = frozenset(w for vocabulary in words.values() for w in vocabulary.fillers)
        for locale, vocabulary in sorted(words.items()):
            phrases: dict[str, tuple[str, ...]] = {}
            for flag_id, triggers in vocabulary.flags.items():
                for n, trigger in enumerate(triggers):
                    name = f"{locale}:{flag_id}:{n}"
                    self.triggers[name] = _Trigger(flag_id, trigger)
                    for kind, listed in (("say", trigger.say), ("ask", trigger.ask)):
                        phrases[f"{kind}|{name}"] = tuple(p for p in listed if TOGETHER not in p)
                        for i, pair in enumerate(p for p in listed if TOGETHER in p):
                            first, second = (part.strip() for part in pair.split(TOGETHER))
                            phrases[f"{kind}{FIRST}|{name}|{i}"] = (first,)
                            phrases[f"{kind}{SECOND}|{name}|{i}"] = (second,)
                    phrases[f"unless|{name}"] = trigger.unless
                    phrases[f"unless_sentence|{name}"] = trigger.unless_sentence
            for sign, said in vocabulary.signs.items():
                phrases[f"sign|{sign}"] = said.say
                phrases[f"sign_ask|{sign}"] = said.ask
            tails: dict[str, tuple[str, ...]] = {}
            for context, listed in vocabulary.context:
                (tails if context in LONGEST else phrases)[f"context|{context}"] = listed
            sets.append(PhraseSet({k: v for k, v in phrases.items() if v}, vocabulary.classes, fillers))
            if any(tails.values()):
                longest.append(PhraseSet({k: v for k, v in tails.items() if v}, vocabulary.classes, fillers))
            for answer, listed in vocabulary.answers:
                answers[answer].extend(listed)
        self.phrase_sets = tuple(sets)
        self.longest_sets = tuple(longest)
        self.answers = PhraseSet(answers)
        self.ever = frozenset(sign for w in words.values() for sign, said in w.signs.items() if said.ever)
        self.mentions = frozenset(sign for w in words.values() for sign, said in w.signs.items() if said.mention)

    @property
    def keep(self) -> frozenset[str]:
        return frozenset(w for vocabulary in self.words.values() for w in vocabulary.keep)

    @property
    def short_words(self) -> frozenset[str]:
        return frozenset(w for vocabulary in self.words.values() for w in vocabulary.short_words)

    @property
    def sounds(self) -> tuple[Sounds, ...]:
        """Each language's spelling rules: a word is heard in every language, as the message is read."""
        return tuple(Sounds(tuple(v.sounds.items())) for _, v in sorted(self.words.items()) if v.sounds)


def _together(reading: Reading, firsts: list[Hit], seconds: Sequence[Hit]) -> list[Hit]:
    """The two halves of an "A & B" phrase in the same part of a sentence (a segment: what a negation reaches), in
    either order and at any distance: each first half with the nearest second half there, as one hit whose gaps are
    the words between (a "not" there denies it, as in any phrase)."""
    by_segment: dict[int, list[Hit]] = {}
    for hit in seconds:
        by_segment.setdefault(reading.segment[hit.start], []).append(hit)
    paired = []
    for first in firsts:
        near = [
            h for h in by_segment.get(reading.segment[first.start], ()) if h.end <= first.start or h.start >= first.end
        ]
        if not near:
            continue
        second = min(near, key=lambda h: min(abs(h.start - first.end), abs(first.start - h.end)))
        a, b = (first, second) if first.start < second.start else (second, first)
        gaps = (*a.gaps, *range(a.end, b.start), *b.gaps)
        paired.append(Hit(first.key, a.start, b.end, gaps))
    return paired


class Screener:
    """Screens a message for red flags, and reads the answer to a safety question, with one Lexicon."""

    def __init__(self, vocabulary: RedFlagVocabulary, lexicon: Lexicon) -> None:
        self.vocabulary, self.table, self.lexicon = vocabulary, vocabulary.table, lexicon
        self._crisis = frozenset(f.id for f in self.table.flags if f.interrupt == "crisis")
        self._order = {f.id: n for n, f in enumerate(self.table.flags)}
        # Most messages are short answers many people send ("2", "no"): those are screened once and remembered.
        # Longer texts, which could say something personal, are never kept.
        self._remember_short()

    def _remember_short(self) -> None:
        self._short: Callable[[str], Screen] = functools.lru_cache(maxsize=SHORT_RESULTS)(self._screen)

    def __getstate__(self) -> dict[str, object]:
        # A copy of the loaded content (bot/content/cache.py) holds no message anyone sent: the remembered short
        # texts stay with this process.
        return {k: v for k, v in self.__dict__.items() if k != "_short"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._remember_short()

    def screen(self, text: str) -> Screen:
        if len(text) <= SHORT_TEXT:
            return self._short(text)
        return self._screen(text)

    def _screen(self, text: str) -> Screen:
        tokens = self.lexicon.read(text)
        if not tokens:
            return NOTHING
        found: dict[str, dict[str, list[Hit]]] = {}
        for phrases in self.vocabulary.phrase_sets:
            for hit in phrases.find(tokens):
                kind, _, name = hit.key.partition("|")
                found.setdefault(kind, {}).setdefault(name, []).append(hit)
        if not any(found.get(kind) for kind in ("say", "ask", f"say{FIRST}", f"ask{FIRST}")):
            return NOTHING
        for phrases in self.vocabulary.longest_sets:
            for hit in phrases.find(tokens, longest=True):
                found.setdefault("context", {}).setdefault(hit.key.partition("|")[2], []).append(hit)
        reading = Reading(tokens, found.get("context", {}))
        for kind in ("say", "ask"):
            for key, firsts in found.get(f"{kind}{FIRST}", {}).items():
                name = key.rpartition("|")[0]
                paired = _together(reading, firsts, found.get(f"{kind}{SECOND}", {}).get(key, ()))
                if paired:
                    found.setdefault(kind, {}).setdefault(name, []).extend(paired)
        if not (found.get("say") or found.get("ask")):
            return NOTHING
        signs = self._signs(reading, found)
        triggered = [
            (name, self.vocabulary.triggers[name], hits, kind == "ask")
            for kind in ("say", "ask")
            for name, hits in found.get(kind, {}).items()
        ]
        # A crisis said of another person ("my son wants to kill himself"): the words of a `someone_else` trigger
        # where the person named is not the writer (Reading.of_someone_else) are theirs, and so are other readings of
        # the same words, unless they name the writer ("me he hecho cortes"); the writer's own crisis is one said in
        # other words ("... and I want to die too").
        theirs: dict[str, list[Hit]] = {}
        for _, trigger, hits, _ in triggered:
            if trigger.trigger.someone_else:
                theirs.setdefault(trigger.flag, []).extend(h for h in hits if reading.of_someone_else(h))
        flags: dict[str, Status] = {}
        own: dict[str, Status] = {}  # as read in the writer's words
        for name, trigger, hits, weak in triggered:
            status = self._trigger(reading, name, hits, found, weak=weak, signs=signs)
            flags[trigger.flag] = max(flags.get(trigger.flag, Status.absent), status)
            of_others = theirs.get(trigger.flag, ())
            mine = [
                h
                for h in hits
                if not (any(h.start < o.end and o.start < h.end for o in of_others) and reading.of_someone_else(h))
            ]
            if len(mine) < len(hits):
                status = self._trigger(reading, name, mine, found, weak=weak, signs=signs) if mine else Status.absent
            own[trigger.flag] = max(own.get(trigger.flag, Status.absent), status)
        # Theirs only where the writer's own words do not raise it, even as a question.
        others = frozenset(f for f in flags if own.get(f, Status.absent) < Status.unsure)
        return self._result(flags, others)

    def _signs(self, reading: Reading, found: Mapping[str, Mapping[str, list[Hit]]]) -> dict[str, Status]:
        signs: dict[str, Status] = {}
        for kind in ("sign", "sign_ask"):
            for name, hits in found.get(kind, {}).items():
                if name in self.vocabulary.mentions:
                    best = Status.live
                else:
                    ever = name in self.vocabulary.ever
                    best = max(reading.status(h, weak=kind == "sign_ask", ever=ever, animals=False) for h in hits)
                signs[name] = max(signs.get(name, Status.absent), best)
        return signs

    def _trigger(
        self,
        reading: Reading,
        name: str,
        hits: list[Hit],
        found: Mapping[str, Mapping[str, list[Hit]]],
        *,
        weak: bool,
        signs: Mapping[str, Status],
    ) -> Status:
        trigger = self.vocabulary.triggers[name]
        benign = {reading.segment[h.start] for h in found.get("unless", {}).get(name, ())}
        benign_sentences = {reading.sentence[h.start] for h in found.get("unless_sentence", {}).get(name, ())}
        crisis = trigger.flag in self._crisis
        status = Status.absent
        for hit in hits:
            # A phrase spanning an "and" ("toes went white and numb in the ski boots") is excused in any of its parts.
            spanned = range(reading.segment[hit.start], reading.segment[hit.end - 1] + 1)
            if any(s in benign for s in spanned) or reading.sentence[hit.start] in benign_sentences:
                continue
            status = max(status, reading.status(hit, crisis=crisis, weak=weak, ever=trigger.trigger.ever))
            if status is Status.live:
                break
        if status < Status.unsure:
            return status
        for sign in trigger.trigger.needs:
            said = signs.get(sign, Status.absent)
            if said is Status.live:
                continue
            if said is Status.unsure or (said < Status.denied and trigger.trigger.otherwise == "ask"):
                status = min(status, Status.unsure)
            else:
                return Status.off
        return status

    def _result(self, flags: Mapping[str, Status], others: frozenset[str]) -> Screen:
        def having(status: Status) -> tuple[str, ...]:
            return tuple(sorted((f for f, s in flags.items() if s is status), key=self._order.__getitem__))

        live, unsure, denied = having(Status.live), having(Status.unsure), having(Status.denied)
        if live:
            findings = tuple(dict.fromkeys(f for f in (self.table.get(i).finding for i in live) if f is not None))
            of_others = tuple(f for f in live if f in others)
            return Screen(self.table.level(live), live, findings, unsure, denied, of_others)
        if unsure:
            return Screen("confirm", unsure, (), (), denied, tuple(f for f in unsure if f in others))
        return Screen(None, (), (), (), denied)

    def answer(self, text: str) -> Answer | None:
        """The answer to a yes/no safety question: "1"/"2"/"3" (its choices' order), or the words of any language."""
        tokens = tuple(t for t in self.lexicon.read(text) if t not in PUNCTUATION)
        if len(tokens) == 1 and tokens[0] in NUMBERED:
            return NUMBERED[tokens[0]]
        whole = self.vocabulary.answers.whole(tokens)
        if len(whole) == 1:
            return whole.pop()  # type: ignore[return-value]
        opening = [h for h in self.vocabulary.answers.find(tokens, 0, len(tokens)) if h.start == 0]
        if not opening:
            return None
        longest = max(h.end for h in opening)
        keys = {h.key for h in opening if h.end == longest}
        return keys.pop() if len(keys) == 1 else None  # type: ignore[return-value]
