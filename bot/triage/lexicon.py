"""Words as data, matched by code: shorthand, spelling tolerance and phrase patterns over a message's words. Pure.

Every locale's language knowledge (locales/<lang>/*.yaml) is written as phrases in a small pattern language, read
here once at start-up and matched in time linear in the message's length:

    short of breath             the words in this order
    (catch|get) my breath       one of the alternatives (each may be several words)
    [really] bad                optional words
    breathless*                 a word starting with this (at least three letters before the star)
    {limb} ... cold             a named class of words (alternatives defined once beside the phrases)
    cannot ... breathe          up to 3 words in between ("...5": up to 5); never across a clause break
    temperature ...2 #38-42     a number from 38 to 42, decimals included (38.5)
    tiene ##37.8-43             the same, only written with a decimal point (38.9; not 39, which may be an age)

A message is read into tokens first (`Lexicon.read`): cleaned (text.clean), SMS shorthand and contractions expanded
from each locale's table ("cant" -> "cannot", "xq" -> "porque"), and each unknown word of five letters or more
corrected to the nearest word some phrase uses, by Damerau-Levenshtein distance (rapidfuzz), when the correction is
unambiguous: one edit up to seven letters, two from eight, and the first letter kept. A word written as it sounds is
read as the vocabulary word that sounds the same (`Sounds`, each locale's spelling rules: "cofing" is "coughing",
"tocer" is "toser"; words as few edits away are kept beside it: "sabbed" sounds "saved", and is "stabbed" typed with
a letter dropped), and a short word (three or four letters) only towards a short list of sign words: by sound
("tite" -> "tight", "pexo" -> "pecho"), by one edit at four letters ("pian" -> "pain") or one dropped letter at three
("kil" -> "kill"); near none of them, towards any phrase word one slip of a phone's keyboard away (a letter dropped:
"fel" -> "feel", "shrt" -> "short"; at four letters also two letters swapped or a key beside the right one).
Words a locale lists as `keep` (real words close to a vocabulary word: "chess", "breed", "bet") are never corrected.
A word as near to several words as to each other is read as all of them (a `Token`, which a phrase using
any of them matches), as is a word beginning with a stem and one edit from a whole word ("swelleed"); letters typed
three times or more are read once or twice, whichever makes a known word ("cantttt", "noooo"); and a word of five
letters or more that no edit reaches may have its first letter typed on a key beside the right one ("vreath").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.triage.text import PUNCTUATION, clean, split_units, split_words, squeezings

MIN_FUZZY = 5  # shorter words are matched exactly: "pale" must never become "male"
MIN_SHORT = 3  # three- and four-letter words are corrected only towards the short sign words
LONG_WORD = 8  # from this length two edits are allowed
MAX_EXPANSIONS = 4096  # alternatives multiply: a phrase that expands further is a mistake in the data
DEFAULT_GAP = 3
MAX_GAP = 8
# Filler words (`PhraseSet.fillers`: "really", "seriously", "own") a phrase reads past between two of its words, at
# most this many in a row: "thinking seriously of ending my own life" is "thinking of ending my life".
MAX_FILLERS = 2
MIN_STEM = 3
MIN_FIRST_KEY = 5  # from this length a mistyped first letter is corrected, when the key is beside the right one
# Tokens a gap never skips: a phrase's words stay within one clause.
CLAUSE_BREAKS = frozenset(PUNCTUATION)


class PhraseError(ValueError):
    """A phrase that cannot be read; the message names the phrase."""


# --- the pattern language -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str


@dataclass(frozen=True)
class Stem:
    prefix: str


@dataclass(frozen=True)
class Gap:
    most: int


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    decimal: bool = False  # only a number written with a decimal point ("##37.8-43": 38.9, not 39)


Element = Word | Stem | Gap | Number
Sequence_ = tuple[Element, ...]


@dataclass(frozen=True, eq=False)
class _Class:
    """A named class where a phrase uses it: every sequence its members stand for, in order."""

    sequences: tuple[Sequence_, ...]

    @functools.cached_property
    def elements(self) -> frozenset[Element]:
        return frozenset(e for sequence in self.sequences for e in sequence)


# A step from one state of a phrase to the next: an element, one of a class's sequences, or nothing (None).
Step = Element | _Class | None
_At = tuple["_Node", int]  # a node of the tree, reached at a state of a phrase


@dataclass(frozen=True)
class _Pattern:
    """A phrase as read: states joined by steps, each state's steps in the order the phrase writes its alternatives.
    Every path from state 0 to `end` is one sequence of elements the phrase stands for, and the paths come in the
    order the alternatives multiply out; the sequences themselves are never built (they multiply). `parts`: the
    elements and classes the phrase names."""

    steps: tuple[tuple[tuple[Step, int], ...], ...]
    end: int
    parts: tuple[Element | _Class, ...]

    @functools.cached_property
    def firsts(self) -> tuple[Element, ...]:
        """The elements a sequence of the phrase can begin with, in the order they first come."""
        found: dict[Element, None] = {}
        self._firsts(0, found, set())
        return tuple(found)

    def _firsts(self, state: int, found: dict[Element, None], seen: set[int]) -> None:
        if state in seen:
            return
        seen.add(state)
        for step, then in self.steps[state]:
            if step is None:
                self._firsts(then, found, seen)
            elif isinstance(step, _Class):
                found.update(dict.fromkeys(sequence[0] for sequence in step.sequences))
            else:
                found[step] = None

    def sequences(self, state: int = 0, so_far: Sequence_ = ()) -> Iterator[Sequence_]:
        """Every sequence (from `state` on, after `so_far`), in order: only for a class's members, which are few."""
        if state == self.end:
            yield so_far
        for step, then in self.steps[state]:
            if step is None:
                yield from self.sequences(then, so_far)
            elif isinstance(step, _Class):
                for sequence in step.sequences:
                    yield from self.sequences(then, so_far + sequence)
            else:
                yield from self.sequences(then, (*so_far, step))

    def add(self, root: _Node, key: str, first: Element) -> None:
        """Adds the sequences that begin with `first` to the tree at `root`, ending in `key`: the tree and the states
        walked together, in the order of the sequences, as if each were added in turn; a tree node met again at the
        same state has every sequence onward already."""
        self._begin(0, root, key, first, set(), set())

    def _begin(self, state: int, root: _Node, key: str, first: Element, begun: set[int], done: set[_At]) -> None:
        if state in begun:
            return
        begun.add(state)
        for step, then in self.steps[state]:
            if step is None:
                self._begin(then, root, key, first, begun, done)
            elif isinstance(step, _Class):
                for sequence in step.sequences:
                    if sequence[0] == first:
                        self._follow(_descend(root, sequence), then, key, done)
            elif step == first:
                self._follow(root.child(step), then, key, done)

    def _follow(self, node: _Node, state: int, key: str, done: set[_At]) -> None:
        if (node, state) in done:
            return
        done.add((node, state))
        if state == self.end and key not in node.keys:
            node.keys.append(key)
        for step, then in self.steps[state]:
            if step is None:
                self._follow(node, then, key, done)
            elif isinstance(step, _Class):
                for sequence in step.sequences:
                    self._follow(_descend(node, sequence), then, key, done)
            else:
                self._follow(node.child(step), then, key, done)


_TOKEN = re.compile(r"\(|\)|\[|\]|\||\{[a-z_]+\}|\.\.\.\d*|[^\s()\[\]|{}]+")
_WORD = re.compile(r"[a-z0-9]+")
_GLUED = re.compile(r"[0-9]+[a-z][a-z0-9]*")
_UNIT = re.compile(r"[0-9]+|[a-z0-9]+")
_RANGE = re.compile(r"#(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)")
_NUMERIC = re.compile(r"\d+(?:\.\d+)?")
_GROUPING = frozenset("()[]|")


def _lex(phrase: str) -> list[str]:
    """A phrase's tokens; a number written with its unit ("10k", "100m") is two words, as a message is read."""
    return [
        w for token in _TOKEN.findall(phrase) for w in (_UNIT.findall(token) if _GLUED.fullmatch(token) else (token,))
    ]


_CLASS_NAME = re.compile(r"\{([a-z_]+)\}")


def _read(phrase: str, classes: Mapping[str, Sequence[str]]) -> _Pattern:
    """The phrase parsed, once for a phrase and the members of the classes it names: phrase sets share many."""
    named = _CLASS_NAME.findall(phrase) if "{" in phrase else ()
    return _parsed(phrase, tuple((name, tuple(classes[name]) if name in classes else None) for name in named))


@functools.lru_cache(maxsize=1 << 15)
def _parsed(phrase: str, named: tuple[tuple[str, tuple[str, ...] | None], ...]) -> _Pattern:
    members = dict(named)

    def resolve(name: str) -> _Class | None:
        listed = members.get(name)
        return None if listed is None else _class(listed)

    return _parse(phrase, resolve)


@functools.lru_cache(maxsize=1 << 12)
def _class(members: tuple[str, ...]) -> _Class:
    """A class's members read, each a phrase of its own without classes: the same object wherever it is named."""
    return _Class(tuple(s for member in members for s in _parsed(member, ()).sequences()))


def _parse(phrase: str, classes: Callable[[str], _Class | None]) -> _Pattern:
    """The phrase's states and steps, checked: every mistake in it raised, naming it. How many sequences it stands
    for is counted as it is read, part by part, and never more than MAX_EXPANSIONS."""
    tokens = _lex(phrase)
    if not _GROUPING.isdisjoint(tokens):
        return _alternatives(tokens, phrase, classes)
    # Words in a row, the most common phrase: one step to the next state each.
    parts = tuple(_part(token, phrase, classes) for token in tokens)
    _count([len(p.sequences) if isinstance(p, _Class) else 1 for p in parts], phrase)
    if not parts:
        raise PhraseError(f"{phrase!r}: can match nothing")
    if isinstance(parts[0], Gap) or isinstance(parts[-1], Gap):
        raise PhraseError(f"{phrase!r}: a gap must be between words")
    return _Pattern((*(((p, n + 1),) for n, p in enumerate(parts)), ()), len(parts), parts)


def _alternatives(tokens: list[str], phrase: str, classes: Callable[[str], _Class | None]) -> _Pattern:
    reader = _Reader(tokens, phrase, classes)
    end, shape = reader.alternatives(0, None)
    pattern = _Pattern(tuple(map(tuple, reader.steps)), end, tuple(reader.parts))
    if shape.empty or shape.gap_first or shape.gap_last:
        _check(pattern, phrase)  # which sequence comes first says what is wrong
    return pattern


class _Reader:
    """Reads a phrase with brackets or bars into states and steps: each alternative from the state before it, in the
    order written."""

    def __init__(self, tokens: list[str], phrase: str, classes: Callable[[str], _Class | None]) -> None:
        self.rest, self.phrase, self.classes = iter(tokens), phrase, classes
        self.steps: list[list[tuple[Step, int]]] = [[]]
        self.parts: list[Element | _Class] = []

    def alternatives(self, start: int, closing: str | None, end: int | None = None) -> tuple[int, _Shape]:
        """The alternatives from `start` up to `closing`: the state they end at (`end` if given), and their shape."""
        steps, phrase = self.steps, self.phrase
        if end is None:
            steps.append([])
            end = len(steps) - 1
        shape = _NONE
        at, counts = start, list[int]()  # the current alternative so far: how many sequences its parts are, if not 1
        last: int | None = None  # where its last step was taken from, when that step read an element
        empty, gap_first, gap_last = True, False, False  # the same, of some sequence of the alternative so far
        for token in self.rest:
            if token == closing:
                break
            if token in (")", "]"):
                raise PhraseError(f"{phrase!r}: unexpected {token!r}")
            if token == "|":
                shape = shape.or_(_count(counts, phrase), empty, gap_first, gap_last)
                self._close(at, last, end)
                at, counts, last = start, [], None
                empty, gap_first, gap_last = True, False, False
                continue
            if token == "(" or token == "[":
                if token == "(":
                    at, inner = self.alternatives(at, ")")
                else:
                    steps.append([])
                    skip = len(steps) - 1
                    steps[at].append((None, skip))  # without the optional part first, as it multiplies out
                    at, inner = self.alternatives(at, "]", skip)
                    inner = _Shape(inner.size + 1, True, inner.gap_first, inner.gap_last)
                counts.append(inner.size)
                gap_first = gap_first or (empty and inner.gap_first)
                gap_last = inner.gap_last or (inner.empty and gap_last)
                empty, last = empty and inner.empty, None
                continue
            part = _part(token, phrase, self.classes)
            self.parts.append(part)
            steps.append([])
            steps[at].append((part, len(steps) - 1))
            at, last = len(steps) - 1, at
            if isinstance(part, Gap):
                gap_first, gap_last = gap_first or empty, True
            else:
                gap_last = False
                if isinstance(part, _Class):
                    counts.append(len(part.sequences))
            empty = False
        else:
            if closing is not None:
                raise PhraseError(f"{phrase!r}: missing {closing!r}")
        self._close(at, last, end)
        return end, shape.or_(_count(counts, phrase), empty, gap_first, gap_last)

    def _close(self, at: int, last: int | None, end: int) -> None:
        """Ends an alternative at `end`: its last element's step goes there (`at`, just made, is left unused), or
        a step that reads nothing does."""
        if last is None:
            self.steps[at].append((None, end))
        else:
            element, _ = self.steps[last][-1]
            self.steps[last][-1] = (element, end)


class _Shape(NamedTuple):
    """Alternatives in brief: how many sequences they are, and whether one is empty, or begins or ends with a gap."""

    size: int
    empty: bool
    gap_first: bool
    gap_last: bool

    def or_(self, size: int, empty: bool, gap_first: bool, gap_last: bool) -> _Shape:
        """With one more alternative of `size` sequences."""
        return _Shape(self.size + size, self.empty or empty, self.gap_first or gap_first, self.gap_last or gap_last)


_NONE = _Shape(0, False, False, False)


def _part(token: str, phrase: str, classes: Callable[[str], _Class | None]) -> Element | _Class:
    """One token of a phrase that is no bracket or bar: a word, a stem, a range, a gap or a class."""
    if token[0] == "{":
        members = classes(token[1:-1])
        if members is None:
            raise PhraseError(f"{phrase!r}: no class {token[1:-1]!r}")
        return members
    try:
        return _element(token)
    except ValueError as e:
        raise PhraseError(f"{phrase!r}: {e}") from None


@functools.cache
def _element(token: str) -> Element:
    """A token as an element, the same object each time it is written (a phrase set's phrases share most words)."""
    if token.startswith("..."):
        most = int(token[3:]) if len(token) > 3 else DEFAULT_GAP
        if not 1 <= most <= MAX_GAP:
            raise ValueError(f"a gap is 1 to {MAX_GAP} words")
        return Gap(most)
    if token.startswith("#"):
        decimal = token.startswith("##")
        bounds = _RANGE.fullmatch(token[1:] if decimal else token)
        if bounds is None or float(bounds[1]) > float(bounds[2]):
            raise ValueError(f"{token!r} is not a range of numbers such as #38-42")
        return Number(float(bounds[1]), float(bounds[2]), decimal)
    if token.endswith("*"):
        prefix = token[:-1]
        if len(prefix) < MIN_STEM or not _WORD.fullmatch(prefix):
            raise ValueError(f"a stem needs {MIN_STEM}+ letters before '*'")
        return Stem(prefix)
    if token in CLAUSE_BREAKS:
        return Word(token)  # a comma or a full stop written into a phrase: "chest , it hurts"
    if not _WORD.fullmatch(token):
        raise ValueError(f"{token!r} is not a word (lowercase letters and digits, no accents)")
    return Word(token)


def _count(parts: list[int], phrase: str) -> int:
    """How many sequences parts in a row stand for (each part's alternatives times the next's)."""
    total = 1
    for n in parts:
        total *= max(1, n)
        if total > MAX_EXPANSIONS:
            raise PhraseError(f"{phrase!r}: more than {MAX_EXPANSIONS} alternatives; split it")
    return total


def _check(pattern: _Pattern, phrase: str) -> None:
    """Raises for the first sequence (in order) that is empty or begins or ends with a gap, without building any: a
    state reached again with the same kind of start behind it leads to nothing new."""
    problem = _first_problem(pattern, 0, _EMPTY, set())
    if problem:
        raise PhraseError(f"{phrase!r}: {problem}")


_EMPTY, _AFTER_GAP, _AFTER_WORD = 0, 1, 2  # what a path has read so far


def _first_problem(pattern: _Pattern, state: int, read: int, fine: set[tuple[int, int]]) -> str | None:
    if (state, read) in fine:
        return None
    if state == pattern.end and read != _AFTER_WORD:
        return "can match nothing" if read == _EMPTY else "a gap must be between words"
    for step, then in pattern.steps[state]:
        if isinstance(step, Gap) and read == _EMPTY:
            return "a gap must be between words"
        now = read if step is None else _AFTER_GAP if isinstance(step, Gap) else _AFTER_WORD
        problem = _first_problem(pattern, then, now, fine)
        if problem:
            return problem
    fine.add((state, read))
    return None


# --- matching ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A phrase of `key` found at tokens [start, end); `gaps`: the tokens a gap ("...") skipped, which are not the
    phrase's own words (a "not" there may negate it: "chest does not hurt")."""

    key: str
    start: int
    end: int
    gaps: tuple[int, ...] = field(default=(), compare=False)


class _Node:
    """A point in the tree all of a set's phrases are merged into: phrases sharing a start share its nodes, so a
    token is compared with a word once however many phrases begin with it."""

    __slots__ = ("words", "stems", "numbers", "gaps", "keys", "stem_lengths")

    def __init__(self) -> None:
        self.words: dict[str, _Node] = {}
        self.stems: dict[str, _Node] = {}
        self.numbers: list[tuple[Number, _Node]] = []
        self.gaps: dict[int, _Node] = {}
        self.keys: list[str] = []  # phrases of these keys end here
        self.stem_lengths: list[int] = []  # a token's start is looked up at these lengths

    def child(self, element: Element) -> _Node:
        if isinstance(element, Word):
            found = self.words.get(element.text)
            if found is None:
                found = self.words[element.text] = _Node()
            return found
        if isinstance(element, Stem):
            found = self.stems.get(element.prefix)
            if found is None:
                found = self.stems[element.prefix] = _Node()
                if len(element.prefix) not in self.stem_lengths:
                    self.stem_lengths.append(len(element.prefix))
            return found
        if isinstance(element, Gap):
            found = self.gaps.get(element.most)
            if found is None:
                found = self.gaps[element.most] = _Node()
            return found
        for number, node in self.numbers:
            if number == element:
                return node
        node = _Node()
        self.numbers.append((element, node))
        return node


def _descend(node: _Node, sequence: Sequence_) -> _Node:
    for e in sequence:
        node = node.child(e)
    return node


@dataclass
class PhraseSet:
    """Phrases grouped by key (a concept, an answer): `find` every occurrence in a token sequence."""

    phrases: Mapping[str, Sequence[str]]
    classes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Words read past between two words of a phrase (never before its first): adverbs of degree or sincerity that
    # change nothing of what it says (each language's `fillers`, bot/triage/red_flag_words.py).
    fillers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Every phrase is read (and a mistake in one raised) now, but its sequences are not built. The tree they are
        # matched with grows as messages need it: the phrases beginning with a word are added the first time a
        # message has that word, so a process that screens one message (`kneebot screen`) builds only what that
        # message needs.
        self._order = {key: n for n, key in enumerate(self.phrases)}
        self._root = _Node()
        self._by_word: dict[str, list[tuple[str, _Pattern]]] = {}
        self._by_stem: dict[str, list[tuple[str, _Pattern]]] = {}
        parts: set[Element | _Class] = set()
        for key, phrases in self.phrases.items():
            for phrase in phrases:
                pattern = _read(phrase.strip().lower(), self.classes)
                for first in pattern.firsts:
                    if isinstance(first, Word):
                        self._by_word.setdefault(first.text, []).append((key, pattern))
                    elif isinstance(first, Stem):
                        self._by_stem.setdefault(first.prefix, []).append((key, pattern))
                    else:
                        pattern.add(self._root, key, first)  # a number: no word to wait for
                parts.update(pattern.parts)
        elements = {e for part in parts for e in (part.elements if isinstance(part, _Class) else (part,))}
        self._words = {e.text for e in elements if isinstance(e, Word)}
        self._stems = {e.prefix for e in elements if isinstance(e, Stem)}
        self._stem_lengths = sorted({len(prefix) for prefix in self._by_stem})
        self._grown: set[str] = set()

    def _grow(self, token: str) -> None:
        """Adds to the tree the phrases that begin with this token, if not there yet."""
        if token in self._grown:
            return
        if token in self._words:
            self._grown.add(token)  # a phrase word: a set bounded by the vocabulary, checked before the lookups
        for key, pattern in self._by_word.pop(token, ()):
            pattern.add(self._root, key, Word(token))
        for length in self._stem_lengths:
            for key, pattern in self._by_stem.pop(token[:length], ()) if length <= len(token) else ():
                pattern.add(self._root, key, Stem(token[:length]))

    @property
    def words(self) -> frozenset[str]:
        """Every whole word the phrases use: the vocabulary spelling is corrected towards."""
        return frozenset(self._words)

    @property
    def stems(self) -> frozenset[str]:
        """Every stem (the part before '*') the phrases use: a word's start is corrected towards these."""
        return frozenset(self._stems)

    def find(
        self, tokens: Sequence[str], start: int = 0, end: int | None = None, *, longest: bool = False
    ) -> list[Hit]:
        """Every phrase found within tokens[start:end]: for each key and start position, the shortest match (or, with
        `longest`, the longest: what a whole answer's words cover, "i want to" rather than "i want"). A `Token` read
        as one of several words matches a phrase using any of them."""
        stop = len(tokens) if end is None else end
        hits: list[Hit] = []
        root = self._root
        others = _others(tokens)
        for i in range(start, stop):
            token = tokens[i]
            self._grow(token)
            if i in others:
                for other in others[i]:
                    self._grow(other)
                if not any(_begins(root, t) for t in (token, *others[i])):
                    continue
            elif (
                token not in root.words
                and not (root.numbers and _NUMERIC.fullmatch(token))
                and not any(token[:n] in root.stems for n in root.stem_lengths)
            ):
                continue  # most words begin no phrase
            found = _walk(root, tokens, i, stop, whole=False, longest=longest, others=others, fillers=self.fillers)
            for key in sorted(found, key=self._order.__getitem__):
                last, skipped = found[key]
                hits.append(Hit(key, i, last, skipped))
        return hits

    def whole(self, tokens: Sequence[str]) -> set[str]:
        """The keys with a phrase that spans all of `tokens` (an answer given in so many words)."""
        if not tokens:
            return set()
        others = _others(tokens)
        for token in (tokens[0], *others.get(0, ())):
            self._grow(token)
        return set(_walk(self._root, tokens, 0, len(tokens), whole=True, others=others, fillers=self.fillers))


def _begins(root: _Node, token: str) -> bool:
    return (
        token in root.words
        or bool(root.numbers and _NUMERIC.fullmatch(token))
        or any(token[:n] in root.stems for n in root.stem_lengths)
    )


def _others(tokens: Sequence[str]) -> dict[int, tuple[str, ...]]:
    """The other words each `Token` may be, by position: most messages have none."""
    if all(type(t) is str for t in tokens):
        return _NO_OTHERS
    return {i: t.others for i, t in enumerate(tokens) if type(t) is Token}


_NO_OTHERS: dict[int, tuple[str, ...]] = {}


def _walk(
    root: _Node,
    tokens: Sequence[str],
    i: int,
    stop: int,
    *,
    whole: bool,
    longest: bool = False,
    others: Mapping[int, tuple[str, ...]] | None = None,
    fillers: frozenset[str] = frozenset(),
) -> dict[str, tuple[int, tuple[int, ...]]]:
    """The phrases matching from token i, before `stop`: per key, the end of its shortest (or longest) match and the
    tokens its gaps skipped. Each gap is at most MAX_GAP wide and never crosses a clause break, so the work from one
    start is bounded by the phrases, whatever the message. `others`: the other words a token may be, by position.
    `fillers`: words read past between two of a phrase's words (at most MAX_FILLERS in a row), kept with the gaps."""
    best: dict[str, tuple[int, tuple[int, ...]]] = {}
    skipped: list[int] = []
    spellings = others or {}

    def visit(node: _Node, j: int, filled: int = 0, *, counted: bool = True) -> None:
        for key in node.keys if not filled else ():  # a phrase never ends on a filler it read past
            if (not whole or j == stop) and (key not in best or (j > best[key][0] if longest else j < best[key][0])):
                best[key] = (j, tuple(skipped))
        if j < stop:
            token = tokens[j]
            if j in spellings:
                for each in _children(node, (token, *spellings[j])):
                    visit(each, j + 1)
            else:
                child = node.words.get(token)
                if child is not None:
                    visit(child, j + 1)
                for length in node.stem_lengths:
                    child = node.stems.get(token[:length]) if length <= len(token) else None
                    if child is not None:
                        visit(child, j + 1)
            if counted and node.numbers and _NUMERIC.fullmatch(token):
                value = float(token)
                for number, child in node.numbers:
                    if number.low <= value <= number.high and (not number.decimal or "." in token):
                        visit(child, j + 1)
        for most, child in node.gaps.items():
            # A number after a gap is the first one there: "pulse ox 98 and heart rate 64" reads no oxygen of 64.
            counted = True
            for skip in range(most + 1):
                k = j + skip
                if k > stop or (skip and tokens[k - 1] in CLAUSE_BREAKS):
                    break
                if skip and counted and _NUMERIC.fullmatch(tokens[k - 1]):
                    counted = False
                skipped.extend(range(j, k))
                visit(child, k, counted=counted)
                del skipped[len(skipped) - skip :]
        if fillers and node is not root and j < stop and filled < MAX_FILLERS and tokens[j] in fillers:
            skipped.append(j)
            visit(node, j + 1, filled + 1)
            skipped.pop()

    visit(root, i)
    return best


def _children(node: _Node, spellings: Iterable[str]) -> list[_Node]:
    """The nodes any of these words leads to from `node` (by word or stem), each once."""
    found: dict[int, _Node] = {}
    for token in spellings:
        child = node.words.get(token)
        if child is not None:
            found.setdefault(id(child), child)
        for length in node.stem_lengths:
            child = node.stems.get(token[:length]) if length <= len(token) else None
            if child is not None:
                found.setdefault(id(child), child)
    return list(found.values())


# --- reading a message ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sounds:
    """How one language's spelling sounds: rewrites applied in order to a word with its doubled letters single, "^"
    and "$" marking its start and end (("ough", "of"): "enough" and "enuf" both sound "enof"). A rewrite of a doubled
    letter (Spanish ("ll", "y"): "rodilla" and "rodiya" both sound "rodiya") is applied first, before they are made
    single. Two words with the same key sound alike; the key is only ever compared with another key."""

    rewrites: tuple[tuple[str, str], ...] = ()
    # The rewrites of a doubled letter, applied first, and the others: split once, as every vocabulary word is keyed.
    _doubled: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    _single: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_doubled", tuple(r for r in self.rewrites if _DOUBLED.search(r[0])))
        object.__setattr__(self, "_single", tuple(r for r in self.rewrites if not _DOUBLED.search(r[0])))

    def key(self, word: str) -> str:
        sound = word
        for written, said in self._doubled:
            sound = sound.replace(written, said)
        sound = "^" + _DOUBLED.sub(r"\1", sound) + "$"
        for written, said in self._single:
            sound = sound.replace(written, said)
        return _DOUBLED.sub(r"\1", sound.strip("^$"))


_DOUBLED = re.compile(r"(.)\1+")
_STRETCH = re.compile(r"([a-z])\1{2,}")
# The letter keys beside each on a phone's QWERTY keyboard (the Spanish one's too: its "ñ" is read as "n").
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
KEYBOARD: Mapping[str, str] = {
    key: "".join(
        sorted(
            {row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)}
            | {
                _ROWS[other][i]
                for other in (r - 1, r + 1)
                if 0 <= other < len(_ROWS)
                for i in ((c - 1, c) if other < r else (c, c + 1))
                if 0 <= i < len(_ROWS[other])
            }
        )
    )
    for r, row in enumerate(_ROWS)
    for c, key in enumerate(row)
}


class Token(str):
    """A word read as one of several words, as likely as each other: itself the first, `others` the rest. A phrase
    using any of them matches (`PhraseSet.find`); everything else reads the first."""

    others: tuple[str, ...]

    def __new__(cls, first: str, others: Iterable[str]) -> Token:
        token = super().__new__(cls, first)
        token.others = tuple(w for w in dict.fromkeys(others) if w != first)
        return token


class Lexicon:
    """How messages are read into tokens: shorthand expanded, spelling corrected towards `vocabulary`.

    `shorthand` maps a word as typed (apostrophes kept: "can't", "cant") to what it stands for ("cannot"); `keep`
    lists real words that must never be corrected into a vocabulary word. Both come from every locale at once: people
    mix languages, so every message is read with all of them. `spelling=False` reads words as typed (shorthand still
    expanded): what the spelling tolerance adds is measured against it.
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        shorthand: Mapping[str, str],
        *,
        stems: Iterable[str] = (),
        keep: Iterable[str] = (),
        spelling: bool = True,
        short: Iterable[str] = (),
        sounds: Iterable[Sounds] = (),
        units: Iterable[str] = (),
    ) -> None:
        self.spelling = spelling
        # Letters typed straight after a number that are its unit or ending ("10k", "100m", "2nd"), read as typed:
        # never a chat word of any language ("k" is "que", "m" is "me", "nd" is "nada" on their own).
        self.units = frozenset(units)
        # Words a typo of three or four letters may be corrected to ("pian" -> "pain", "kil" -> "kill"): shorter
        # typos are too often other words, so only towards these, and only when just one of them is that near.
        self.short = tuple(sorted(set(short)))
        self.sounds = tuple(s for s in sounds if s.rewrites)
        self.shorthand = dict(shorthand)
        self._shorthand = {typed: tuple(split_words(meant)) for typed, meant in self.shorthand.items()}
        expanded = {w for value in self.shorthand.values() for w in split_words(value)}
        self.vocabulary = frozenset(vocabulary) | expanded
        self.stems = frozenset(stems)
        self.keep = frozenset(keep)
        # Candidates by first letter and length: a typo keeps its first letter, and the search stays small.
        self._by_initial: dict[tuple[str, int], list[str]] = {}
        for word in sorted(self.vocabulary):
            if len(word) >= MIN_FUZZY - 1:
                self._by_initial.setdefault((word[0], len(word)), []).append(word)
        self._stems_by_initial: dict[str, list[str]] = {}
        for stem in sorted(self.stems):
            if len(stem) >= MIN_FUZZY:
                self._stems_by_initial.setdefault(stem[0], []).append(stem)
        self._corrected: dict[str, tuple[str, ...]] = {}  # typos of vocabulary words only: never a word nobody listed
        # Sound keys: of every vocabulary word, built the first time a word needs them; of the short words, now.
        self._sounding: dict[str, set[str]] | None = None
        self._short_sounding: dict[str, set[str]] = {}
        for spelling_rules in self.sounds:
            for w in self.short:
                self._short_sounding.setdefault(spelling_rules.key(w), set()).add(w)

    def read(self, text: str) -> tuple[str, ...]:
        """The message as tokens: words (corrected) and the punctuation tokens . , ; : ! ? and newline. A word that
        may be read as several words equally well is a `Token`: the first of them, carrying the others."""
        tokens: list[str] = []
        read: dict[str, tuple[str, ...]] = {}  # a word repeated in this message is read once
        cleaned = clean(text, squeeze=False)
        stretched = _STRETCH.search(cleaned) is not None
        shorthand = self._shorthand
        number_at, number = -1, ""
        for raw, unit in split_units(cleaned):
            if unit:
                whole = shorthand.get(number + raw)  # a word spelt with a number: "2day", "2nite"
                if whole is not None:
                    del tokens[number_at:]
                    tokens.extend(whole)
                    continue
                if raw in self.units:
                    tokens.append(raw)
                    continue
            if raw[0].isdigit():
                number_at, number = len(tokens), raw
            expansion = shorthand.get(raw)
            if expansion is not None:
                tokens.extend(expansion)
                continue
            if raw not in read:
                read[raw] = self._stretched(raw) if stretched and _STRETCH.search(raw) else self._word(raw)
            tokens.extend(read[raw])
        return tuple(tokens)

    def _word(self, raw: str) -> tuple[str, ...]:
        expansion = self._expansion(raw)
        if expansion is not None:
            return expansion
        word = raw.replace("'", "")
        if raw.endswith("'s") and len(raw) > MIN_STEM + 1:
            return self._with_s(raw[:-2], word)
        return self.correct(word) if word else ()

    def _with_s(self, base: str, word: str) -> tuple[str, ...]:
        """A word with "'s" ("leg's gone white", "blood's pouring out", "my lad's 6"): the word itself (a noun with
        "is", "has" or a possessive), carrying the word run together with its "s" ("knees", "mums")."""
        own, whole = self.correct(base), self.correct(word)
        if len(own) != 1 or len(whole) != 1 or own[0] == whole[0]:
            return whole
        return (Token(own[0], (*getattr(own[0], "others", ()), whole[0], *getattr(whole[0], "others", ()))),)

    def _expansion(self, raw: str) -> tuple[str, ...] | None:
        expansion = self._shorthand.get(raw)
        if expansion is None and "'" in raw:
            expansion = self._shorthand.get(raw.replace("'", ""))
        return expansion

    def _stretched(self, raw: str) -> tuple[str, ...]:
        """A word with letters stretched ("cantttt", "breatheeee", "noooo"): each stretched letter once or twice,
        whichever makes a known word or shorthand (both, when both are vocabulary words: "soooon"); else the word
        with them doubled, corrected, or, if that changes nothing, with them single."""
        ways = squeezings(raw)
        known: list[str] = []
        for way in ways:
            word = way.replace("'", "")
            if self._expansion(way) is not None or word in self.vocabulary or word in self.keep:
                known.append(way)
        if known:
            # A phrase word or shorthand before a kept word: "noooo" is "no" before the chat word "noo".
            known.sort(key=lambda way: self._expansion(way) is None and way.replace("'", "") not in self.vocabulary)
            first = self._word(known[0])
            others = [w for w in known[1:] if w in self.vocabulary]
            return (Token(first[0], others),) if len(first) == 1 and others else first
        doubled = self._word(ways[0])
        if doubled != (ways[0].replace("'", ""),) or type(doubled[0]) is Token:
            return doubled
        return self._word(ways[-1])

    def correct(self, word: str) -> tuple[str, ...]:
        """The word as the vocabulary spells it: itself when known or not close to a word; a run-together pair
        ("chestpain") as its two words; a `Token` when it is as close to several words (or begins with a stem and
        is one edit from a word: both kept)."""
        if word in self.vocabulary or word in self.keep or word in PUNCTUATION or not self.spelling:
            return (word,)
        if len(word) < MIN_FUZZY:
            return self._short(word)
        if not word.isalpha():
            return (word,)
        known = self._corrected.get(word)
        if known is not None:
            return known
        found = self._corrections(word)
        if len(self._corrected) < 65536:
            self._corrected[word] = found
        return found

    def _corrections(self, word: str) -> tuple[str, ...]:
        if any(word[:n] in self.stems for n in range(MIN_STEM, len(word) + 1)):
            # As typed, a stem's word; one edit from a whole word, maybe that word too ("swelleed": swelled).
            near = self._near(word, most=1)
            return (Token(word, near[1]),) if near else (word,)
        # A word that sounds like a vocabulary word is that word ("cofing"); else the nearest by edits. As near as
        # each other, a whole word and a stem's word: the one sharing the longer start with what was typed ("passd"
        # is "passed", not the stem "pasad*"). Words as near as the one chosen are kept beside it.
        alike = self._alike(word, self._vocabulary_sounding())
        found = alike[0] if len(alike) == 1 else None
        others: list[str] = alike if len(alike) > 1 else []
        if found is not None:
            # Words as few edits away as the one it sounds like are kept beside it ("sabbed" sounds "saved" and is a
            # letter from "stabbed").
            near = self._near(word)
            if near is not None and near[0] <= DamerauLevenshtein.distance(word, found):
                others = near[1]
        if found is None:
            near = self._near(word)
            stemmed = self._stemmed(word)
            candidates = [c for c in (self._nearest(word, near), stemmed) if c is not None]
            nearest = min(candidates, key=lambda c: (c[0], -_common_prefix(c[1], word), c[1]), default=None)
            if nearest is not None:
                found = nearest[1]
                others += near[1] if near and near[0] == nearest[0] else []
                others += [stemmed[1]] if stemmed and stemmed[0] == nearest[0] else []
            else:
                found = self._split(word)
        if found is None and not others:
            others = self._first_key(word)
            found = others[0] if len(others) == 1 else None
        if found is None:
            return (Token(word, others),) if others else (word,)
        if " " in found:
            return tuple(found.split(" "))
        return (Token(found, others),) if set(others) - {found} else (found,)

    def _short(self, word: str) -> tuple[str, ...]:
        """A three- or four-letter typo of a short word: by sound ("tite" -> "tight"), else by one edit keeping the
        first letter (four letters: "pian" -> "pain"; three: only a dropped letter, "kil" -> "kill"). As near to
        several: the word as typed, carrying them all."""
        if len(word) < MIN_SHORT or not word.isalpha():
            return (word,)
        alike = self._alike(word, self._short_sounding)
        near = [
            w
            for w in self.short
            if w[0] == word[0]
            and (len(word) == MIN_FUZZY - 1 or len(w) == len(word) + 1)
            and DamerauLevenshtein.distance(word, w, score_cutoff=1) <= 1
        ]
        if len(alike) == 1:
            # The word it sounds like, and beside it the short words an edit away ("bloo": blue, blood).
            return (Token(alike[0], near),) if set(near) - {alike[0]} else (alike[0],)
        if len(near) == 1 and not alike:
            return (near[0],)
        others = list(dict.fromkeys((*alike, *near)))
        if not others:
            # Near no short word: a slip of the thumb in any vocabulary word ("fel" feel, "shrt" short).
            others = self._slips(word)
            if len(others) == 1:
                return (others[0],)
        return (Token(word, others),) if others else (word,)

    def _slips(self, word: str) -> list[str]:
        """The vocabulary words a short typo is one slip of a phone keyboard away from, the first letter kept: a
        letter dropped ("fel", "shrt"); at four letters, also two letters swapped ("lkie") or one key typed for the
        key beside it ("painb" no, "paon" yes). Real short words never get here (keep.yaml), and any other edit of a
        word this short makes too many words to guess from."""
        found = [
            w
            for w in self._by_initial.get((word[0], len(word) + 1), ())
            if any(w[:i] + w[i + 1 :] == word for i in range(1, len(w)))
        ]
        if len(word) == MIN_FUZZY - 1:
            for w in self._by_initial.get((word[0], len(word)), ()):
                apart = [i for i in range(1, len(w)) if w[i] != word[i]]
                beside = len(apart) == 1 and word[apart[0]] in KEYBOARD.get(w[apart[0]], "")
                swapped = (
                    len(apart) == 2
                    and apart[1] == apart[0] + 1
                    and w[apart[0]] + w[apart[1]] == word[apart[1]] + word[apart[0]]
                )
                if beside or swapped:
                    found.append(w)
        return [w for w in found if w.isalpha()]

    def _vocabulary_sounding(self) -> dict[str, set[str]]:
        if self._sounding is None:
            self._sounding = {}
            for sounds in self.sounds:
                for w in self.vocabulary:
                    if len(w) >= MIN_FUZZY - 1 and w.isalpha():
                        self._sounding.setdefault(sounds.key(w), set()).add(w)
        return self._sounding

    def _alike(self, word: str, sounding: Mapping[str, set[str]]) -> list[str]:
        """The words of `sounding` that sound like `word` in some locale, nearest by edits first: the one, or those
        as near and sharing as long a start with it."""
        alike = {w for sounds in self.sounds for w in sounding.get(sounds.key(word), ())}
        if not alike:
            return []
        ranked = sorted((DamerauLevenshtein.distance(word, w), -_common_prefix(w, word), w) for w in alike)
        return [w for distance, prefix, w in ranked if (distance, prefix) == ranked[0][:2]]

    def _nearest(self, word: str, found: tuple[int, list[str]] | None) -> tuple[int, str] | None:
        """Of the nearest vocabulary words (`_near`), the one sharing the longest start with what was typed, then the
        first; and its distance."""
        if found is None:
            return None
        best, nearest = found
        return best, max(nearest, key=lambda w: (_common_prefix(w, word), -nearest.index(w)))

    def _near(self, word: str, most: int | None = None) -> tuple[int, list[str]] | None:
        """The distance of the nearest vocabulary words with the same first letter, and those words in order."""
        if most is None:
            most = 2 if len(word) >= LONG_WORD else 1
        choices = [
            w for n in range(len(word) - most, len(word) + most + 1) for w in self._by_initial.get((word[0], n), ())
        ]
        found = process.extract(word, choices, scorer=DamerauLevenshtein.distance, score_cutoff=most, limit=None)
        if not found:
            return None
        best = min(distance for _, distance, _ in found)
        return best, sorted(w for w, distance, _ in found if distance == best)

    def _first_key(self, word: str) -> list[str]:
        """A word of MIN_FIRST_KEY letters or more whose first letter alone was mistyped, as a key beside it on a
        phone's keyboard ("vreath", "xhest"): the vocabulary words (or a stem's) it may be."""
        if len(word) < MIN_FIRST_KEY:
            return []
        found: list[str] = []
        for first in KEYBOARD.get(word[0], ""):
            found += [w for w in self._by_initial.get((first, len(word)), ()) if w[1:] == word[1:]]
            found += [
                first + word[1:]
                for stem in self._stems_by_initial.get(first, ())
                if word.startswith(stem[1:], 1) and len(word) >= len(stem)
            ]
        return sorted(set(found))

    def _stemmed(self, word: str) -> tuple[int, str] | None:
        """A word whose start is a typo of a stem ("brethlessness" for breathless*): the stem, then the rest (and
        the distance)."""
        best: tuple[int, int, str] | None = None  # (distance, how far the length is from the stem's, result)
        for stem in self._stems_by_initial.get(word[0], ()):
            most = 2 if len(stem) >= LONG_WORD else 1
            for length in range(len(stem) - most, min(len(stem) + most, len(word)) + 1):
                distance = DamerauLevenshtein.distance(word[:length], stem, score_cutoff=most)
                candidate = (distance, abs(length - len(stem)), stem + word[length:])
                if distance <= most and (best is None or candidate < best):
                    best = candidate
        return (best[0], best[2]) if best else None

    def _split(self, word: str) -> str | None:
        """Two words run together ("shortof", "chestpain"), each a vocabulary word of two letters or more."""
        for cut in range(2, len(word) - 1):
            left, right = word[:cut], word[cut:]
            if left in self.vocabulary and right in self.vocabulary:
                return f"{left} {right}"
        return None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
