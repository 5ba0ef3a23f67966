"""Free text to the question's answer, or to a command, once for every channel: "1 and 2", "yeah it's swollen",
"no sé", "about a month", "I'm 34", "7/10", "STOP". Pure.

The words are data (locales/<lang>/vocabulary/answers.yaml, compiled into `Language.answers`); this module decides
what they mean at one question: which choices a message names, which it denies ("not swollen"), which it doubts
("not sure if it's swollen"), and what to do with several. `read_answer` returns a `Reading` (bot.triage.reading)
the engine acts on; number questions are read by bot.triage.numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from bot.triage.flow import UNSURE, FlowDefinition, Node
from bot.triage.language import Language
from bot.triage.numbers import in_range, read_number, unclear
from bot.triage.phrasebook import Found, Kind
from bot.triage.quantity import is_number
from bot.triage.reading import (
    NOT_UNDERSTOOD,
    Answered,
    CommandWord,
    Help,
    Reading,
    Several,
    Unclear,
    WhichOne,
)
from bot.triage.text import PUNCTUATION, clean

NEGATION_REACH = 4  # words between "not" and what it denies: "I don't think it is swollen"
SHORT = 24  # messages this short may take the cheap path
ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
CHOICE_KINDS = ("choice", "label")


def read_answer(language: Language, flow: FlowDefinition, node_id: str, text: str, now: datetime) -> Reading:
    """What `text` says at `node_id`. `now` is the conversation's clock ("since Tuesday", "born in 1980")."""
    node = flow.nodes[node_id]
    choices = _choices(flow, node_id)
    cheap = _cheap(language, choices, node, text)
    if cheap is not None:
        return cheap
    tokens = language.lexicon.read(text)
    raw = language.answers.find(tokens)
    found = _outermost(f for f in raw if f.kind not in CHOICE_KINDS or f.key in choices)
    if not any(t not in PUNCTUATION for t in tokens):
        return Help() if "?" in tokens else unclear(node)
    if any(f.kind == "help" for f in found) or _whole(tokens, found, "help_alone") is not None:
        return Help()
    if node.kind == "number":
        reading = read_number(node, tokens, found, now)
    else:
        negations = [f for f in raw if f.kind == "negation"]
        reading = _picked(tokens, found, choices) or _named(tokens, found, choices, negations)
    if isinstance(reading, Unclear) and reading.reason == "not_understood":
        command = _whole(tokens, found, "command")
        if command is not None:
            name, _, argument = command.partition(":")
            return CommandWord(name, argument)
        if "?" in tokens:
            return Help()
    return reading


def read_command(language: Language, text: str) -> CommandWord | None:
    """A whole message that is a command word, with no question to answer: "STOP", "/language es", "borrar"."""
    tokens = language.lexicon.read(text)
    found = _outermost(f for f in language.answers.find(tokens) if f.kind not in CHOICE_KINDS)
    command = _whole(tokens, found, "command")
    if command is None:
        return None
    name, _, argument = command.partition(":")
    return CommandWord(name, argument)


# --- a question's choices, with the words shared by every question --------------------------------------------------

YES = "\x00yes"  # a "yes" to a question with no yes choice: "which one?"
NEGATIVE = frozenset({"no", "none"})


class _Choices:
    """The node's choices by the keys their words are filed under: each choice's label key and own key
    (intake.walk.yes), and the shared yes / no / none / not sure words where the node has such a choice."""

    def __init__(self, flow: FlowDefinition, node_id: str, node: Node) -> None:
        self.node = node
        self.ids = [c.id for c in node.choices]
        # Choices that end the questions (an emergency sign): named with a doubt, they still count.
        self.decisive = {c.id for c in node.choices if c.next and flow.nodes[c.next].kind == "assessment"}
        self.by_key: dict[str, str] = {}
        # The words written for this question alone (checkin.safe.no), which an idiom does not silence.
        self.own: set[str] = set()
        for c in node.choices:
            own = f"{flow.id}.{node_id}.{c.id}"
            self.own.add(own)
            self.by_key[flow.label_key(node_id, c)] = c.id
            self.by_key[own] = c.id
        ids = set(self.ids)
        if "choice.yes" not in self.by_key:
            means_yes = next((c.id for c in node.choices if c.means_yes), None)
            self.by_key["choice.yes"] = means_yes or YES
        self.means_yes = self.by_key["choice.yes"] if "yes" not in ids else None
        if "choice.no" not in self.by_key and "none" in ids:
            self.by_key["choice.no"] = "none"
        # "None" is "no" where no means "none of these signs", not where it answers "can you walk?"
        if "choice.none" not in self.by_key and "no" in ids and "yes" not in ids:
            self.by_key["choice.none"] = "no"
        if node.kind == "number":
            self.by_key = {"choice.unsure": UNSURE}

    def __contains__(self, key: str) -> bool:
        return key in self.by_key

    def ordered(self, ids: Iterable[str]) -> tuple[str, ...]:
        chosen = set(ids)
        return tuple(i for i in self.ids if i in chosen)

    def negative(self) -> str | None:
        return next((i for i in ("none", "no") if i in self.ids), None)


_CHOICES: dict[tuple[int, str], tuple[FlowDefinition, _Choices]] = {}


def _choices(flow: FlowDefinition, node_id: str) -> _Choices:
    """A question's choices by key, worked out once per flow (the entry holds the flow, so its id is not reused)."""
    found = _CHOICES.get((id(flow), node_id))
    if found is not None and found[0] is flow:
        return found[1]
    if len(_CHOICES) > 512:  # flows are loaded once; tests build many
        _CHOICES.clear()
    choices = _Choices(flow, node_id, flow.nodes[node_id])
    _CHOICES[id(flow), node_id] = (flow, choices)
    return choices


def _cheap(language: Language, choices: _Choices, node: Node, text: str) -> Reading | None:
    """Most messages are a digit or one common word: read those without the tokenizer and the phrase search."""
    if len(text) > SHORT:
        return None
    plain = text.strip().lower().rstrip(".! ")
    if plain.isdigit() and len(plain) <= 3:
        if node.kind == "number":
            return in_range(node, float(plain))
        return _by_numbers(choices, [int(plain)])
    if node.kind != "choice":
        return None
    keys = language.answers.exact.get(plain if plain.isascii() else clean(plain))
    ids = {choices.by_key[k] for k in keys or () if k in choices}
    if len(ids) == 1 and YES not in ids:
        return Answered((ids.pop(),))
    return None


# --- choices by number: "2", "1 and 3", "1,2", "the first one" ----------------------------------------------------


def _picked(tokens: Sequence[str], found: Sequence[Found], choices: _Choices) -> Reading | None:
    """Choices by their numbers, when numbers (and fillers) are all the message says."""
    numbers: list[tuple[int, int]] = []  # (position, number)
    covered = [t in PUNCTUATION or t == "/" for t in tokens]
    for f in found:
        counts = f.kind == "ordinal" or (f.kind == "number" and f.end - f.start == 1)
        if counts and float(f.key) == int(float(f.key)):
            numbers.append((f.start, int(float(f.key))))
        elif not (f.kind in ("filler", "join") or (f.kind == "choice" and f.key == "choice.yes")):
            continue
        covered[f.start : f.end] = [True] * (f.end - f.start)
    for i, token in enumerate(tokens):
        if is_number(token):
            parts = token.split(".")  # "1,2" reads as the decimal 1.2: at a list it is two answers
            if not all(p.isdigit() and len(p) <= 2 for p in parts):
                return None
            numbers.extend((i, int(p)) for p in parts)
            covered[i] = True
        elif token in ORDINAL_SUFFIXES and i and is_number(tokens[i - 1]):
            covered[i] = True
    if not numbers or not all(covered):
        return None
    return _by_numbers(choices, [n for _, n in sorted(numbers)])


def _by_numbers(choices: _Choices, numbers: Sequence[int]) -> Reading:
    if not all(1 <= n <= len(choices.ids) for n in numbers):
        return Unclear("not_understood", NOT_UNDERSTOOD)
    picked = choices.ordered(choices.ids[n - 1] for n in numbers)
    positives = [i for i in picked if i not in NEGATIVE and i != UNSURE]
    conflict = "yes" in picked and "no" in picked
    negative = bool(NEGATIVE & set(picked))
    return _decide(choices, positives, unsure=UNSURE in picked, negative=negative, yes=False, conflict=conflict)


# --- choices by their words: "yeah it's swollen", "no fever but I feel awful" ---------------------------------------


def _named(tokens: Sequence[str], found: Sequence[Found], choices: _Choices, negations: Sequence[Found]) -> Reading:
    """`negations` are every negation word, also those inside a longer phrase ("not" in "I do not")."""
    idioms = [f for f in found if f.kind == "idiom"]
    # An idiom silences the answer words inside it ("no está bien" is no "no" to "is it swollen?"), but not a
    # phrase written for this question that holds the whole idiom ("no está bien" to "is the person safe?").
    named = [
        f
        for f in found
        if f.kind in CHOICE_KINDS
        and not any(
            _overlap(f, i) and not (f.key in choices.own and f.start <= i.start and i.end <= f.end) for i in idioms
        )
    ]
    # Words say one thing: of two phrases sharing words ("felt a pop" and "pop and it swelled"), the longer.
    said = sorted((f for f in named if not any(_overlap(f, g) and _longer(g, f) for g in named)), key=lambda f: f.start)
    scope = _Scope(tokens, found, negations)
    # A no that is itself denied says nothing ("not normal", "isn't the same"): not by a word that is a no on its own
    # ("no, they look the same", "no none of those"). The others deny, as "not" does, the choice just after them
    # ("it is not swollen") or one they run into ("no fever" in "no fever or chills", the label "Fever or chills").
    negatives = [h for h in named if choices.by_key[h.key] in NEGATIVE]
    alone = {(h.start, h.end) for h in negatives}
    denied_nos = {h: scope.worded_denial(h, alone) for h in negatives}
    spent = {by for by in denied_nos.values() if by is not None}  # "I do not" in "I do not feel fine" is spent too
    nos = [h for h, by in denied_nos.items() if by is None and not any(h.start <= b < h.end for b in spent)]
    scope.deny_with(nos)
    positives: list[str] = []
    unsure = negative = yes = False
    denied: dict[int, int] = {}  # hit index -> the token where its denial starts
    deniers = set(spent)
    for n, hit in enumerate(said):
        meant = choices.by_key[hit.key]
        if meant == UNSURE:
            unsure = True
            continue
        if meant in NEGATIVE:
            continue  # counted below, unless it only denied a choice
        denier = scope.denier(hit, said[:n], denied)
        if denier is not None:
            denied[n], negative = denier, True
            deniers.add(denier)
        elif meant not in choices.decisive and any(
            choices.by_key[h.key] == UNSURE and scope.same_part(h, hit) for h in said
        ):
            unsure = True  # "not sure if it's swollen"; but "not sure if I fainted" is kept: the safer side
        elif meant == YES or meant == choices.means_yes and hit.key == "choice.yes":
            yes = True
        else:
            positives.append(meant)
    answers_no = [h for h in nos if h in said and h.start not in deniers]
    negative = negative or bool(answers_no)
    if yes and not positives and choices.means_yes not in (None, YES):
        positives, yes = [choices.means_yes], False
    conflict = "yes" in positives and any(choices.by_key[h.key] == "no" for h in answers_no)
    return _decide(choices, positives, unsure=unsure, negative=negative, yes=yes, conflict=conflict)


class _Scope:
    """Where a denial ("not", "sin") and a doubt ("not sure") reach: within a clause, up to a "but"."""

    def __init__(self, tokens: Sequence[str], found: Sequence[Found], negations: Sequence[Found]) -> None:
        self.tokens = tokens
        self.breaks = {i for i, t in enumerate(tokens) if t in PUNCTUATION}
        self.negators: dict[int, int] = {}  # end -> start
        self.carried: set[int] = set()
        for f in found:
            if f.kind == "broken_by":
                self.breaks.update(range(f.start, f.end))
            elif f.kind == "negation":
                self.negators[f.end] = f.start
            elif f.kind == "carried_by":
                self.carried.update(range(f.start, f.end))
        self.words = {f.end: f.start for f in negations}
        self.denials: list[Found] = []

    def deny_with(self, denials: Sequence[Found]) -> None:
        self.denials = list(denials)
        for f in denials:
            self.negators[f.end] = f.start

    def worded_denial(self, hit: Found, unless: set[tuple[int, int]]) -> int | None:
        """Where a negation word ("not") a few words before `hit`, in its clause, starts; none of the spans `unless`."""
        gap, i = 0, hit.start
        while i > 0 and i - 1 not in self.breaks and gap <= NEGATION_REACH:
            if i in self.words and (self.words[i], i) not in unless:
                return self.words[i]
            gap, i = gap + 1, i - 1
        return None

    def denier(self, hit: Found, before: Sequence[Found], denied: Mapping[int, int]) -> int | None:
        """The start of the denial that reaches `hit`: a negator a few words before it in its clause, or one that
        reaches a choice before it joined by "or" ("no fever or chills")."""
        for f in self.denials:
            if f.start < hit.start < f.end:
                return f.start
        ends = {h.end: n for n, h in enumerate(before)}
        gap, i = 0, hit.start
        while i > 0:
            if i in self.negators:
                return self.negators[i]
            if i in ends:
                n = ends[i]
                between = range(before[n].end, hit.start)
                return denied.get(n) if all(j in self.carried for j in between) and between else None
            if i - 1 in self.breaks:
                return None
            if i - 1 not in self.carried:
                gap += 1
                if gap > NEGATION_REACH:
                    return None
            i -= 1
        return None

    def same_part(self, a: Found, b: Found) -> bool:
        lo, hi = min(a.start, b.start), max(a.end, b.end)
        return not any(lo <= i < hi for i in self.breaks)


def _decide(
    choices: _Choices, positives: Sequence[str], *, unsure: bool, negative: bool, yes: bool, conflict: bool
) -> Reading:
    """What was named, asserted first (the safer side: "no, but my foot is cold" is the foot), then a doubt (which
    counts towards the safer side), then a denial; a plain yes to a list asks which one."""
    if conflict:
        return Several(choices.ordered(("yes", "no")))
    ordered = choices.ordered(positives)
    if ordered:
        return _several(choices.node, ordered)
    if unsure and UNSURE in choices.ids:
        return Answered((UNSURE,))
    if negative and (none := choices.negative()):
        return Answered((none,))
    if yes:
        return WhichOne()
    return Unclear("not_understood", NOT_UNDERSTOOD)


def _several(node: Node, ids: tuple[str, ...]) -> Reading:
    if len(ids) == 1 or node.several == "all":
        return Answered(ids)
    if node.several == "most_serious":
        return Answered(ids[:1], named=ids)
    return Several(ids)


# --- finding -------------------------------------------------------------------------------------------------------


def _outermost(found: Iterable[Found]) -> list[Found]:
    """Hits not inside a longer one: "not sure" holds "sure" and "not", "none of the above" holds "none"."""
    hits = list(found)
    return [f for f in hits if not any(f.within(g) for g in hits)]


def _overlap(a: Found, b: Found) -> bool:
    return a.start < b.end and b.start < a.end


def _longer(a: Found, b: Found) -> bool:
    return a.end - a.start > b.end - b.start


def _whole(tokens: Sequence[str], found: Sequence[Found], kind: Kind) -> str | None:
    """The key of `kind` the whole message says, fillers and punctuation aside; None if it says more, or two."""
    covered = [t in PUNCTUATION or t == "/" for t in tokens]
    keys: set[str] = set()
    for f in found:
        if f.kind == kind:
            keys.add(f.key)
        elif f.kind != "filler":
            continue
        covered[f.start : f.end] = [True] * (f.end - f.start)
    return keys.pop() if len(keys) == 1 and all(covered) else None
