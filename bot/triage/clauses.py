"""How the words of a message stand to each other: sentences, clauses, the reach of a negation, history, hypotheticals,
questions and idioms; and so what a phrase found in it means. Pure, and linear in the message's length.

A phrase counts unless, where it stands, it is negated ("no chest pain", "chest pain? no"), past ("10 years ago"), a
baseline ("like always"; "and always have been" closing a later clause of the sentence; unless something is new),
about the world or advice given ("the leaflet lists chest pain"), inside an idiom, or in a question about the future.
A hypothetical, a question asking whether ("could this be a clot?"), a general question with no one in it, an event
that may be long over ("my dad had a stroke") or a weak phrase leave it unsure: worth one yes/no question. Crisis
words count even when hedged or asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum

from bot.triage.lexicon import Hit

SENTENCE_ENDS = frozenset({".", "!", "?", "\n"})
PUNCTUATION_BREAKS = SENTENCE_ENDS | {",", ";", ":"}
STRONG, WEAK = 2, 1
# Whose a word is: the writer's ("I", "my"), another person's ("he", "my son"), or no one's in particular ("someone").
WRITER, OTHER, ANYONE = 1, 2, 3
NEGATION_REACH = 7  # words a negation reaches back over ("no pain in my chest or back"), more along a list
CRISIS_REACH = 1  # only "not suicidal": "not gonna lie, I want to end it" still counts
LIST_REACH = 3  # each "or" in a list carries a negation this much further
MOST_LOOKED_BACK = 24  # however long a list, a negation is looked for this far back at most
REAFFIRM_REACH = 6  # words after a denied sign its "but now I am" may start within
DOUBLE_NEGATIVE_REACH = 12  # "can barely get up the 3 steps to my front door without ..."


class Status(IntEnum):
    """What a phrase found in a message says, from least to most."""

    absent = 0
    off = 1  # said, but not as something happening: history, a baseline, an idiom, advice quoted
    denied = 2  # said, and denied: "no chest pain"
    unsure = 3  # worth one yes/no question first
    live = 4


class Reading:
    """A message's tokens with their places: sentence, clause (cut by "but", "; " and ", I ..."), and segment (what a
    negation reaches: also cut by "and", "when", a comma), built from the context phrases found in it."""

    def __init__(self, tokens: Sequence[str], context: Mapping[str, Iterable[Hit]]) -> None:
        n = len(tokens)
        self.tokens = tokens
        starts = {name: sorted({h.start for h in hits}) for name, hits in context.items()}
        spans = {name: [(h.start, h.end) for h in hits] for name, hits in context.items()}

        def marks(name: str) -> bytearray:
            at = bytearray(n)
            for i in starts.get(name, ()):
                at[i] = 1
            return at

        def covered(name: str) -> bytearray:
            """Every word inside a phrase of the list `name`."""
            at = bytearray(n)
            for start, end in spans.get(name, ()):
                at[start:end] = b"\x01" * (end - start)
            return at

        subjects, self.lists, self.transparent = marks("subjects"), marks("lists"), marks("transparent")
        breaks = bytearray(n)
        for i in starts.get("negation_ends", ()):
            breaks[i] = WEAK
        for i, token in enumerate(tokens):
            if token in SENTENCE_ENDS or token == ";" or (token == "," and i + 1 < n and subjects[i + 1]):
                breaks[i] = STRONG
            elif token == "," and not breaks[i]:
                breaks[i] = WEAK
        for i in starts.get("clause_breaks", ()):
            breaks[i] = STRONG
        self.breaks = breaks
        # A comma inside a list ("no chest pain, cough or fever") keeps a negation going: an "or" follows it
        # before the next break.
        self.list_comma = bytearray(n)
        pending_or = False
        for i in range(n - 1, -1, -1):
            if tokens[i] == "," and breaks[i] == WEAK:
                self.list_comma[i] = pending_or
                pending_or = False
            elif breaks[i]:
                pending_or = False
            if self.lists[i]:
                pending_or = True

        self.negator = marks("negators")
        said_no = marks("negators")  # every negator, those that negate no sign included ("no es normal")
        for start, end in spans.get("not_negating", ()):
            for i in range(start, end):
                self.negator[i] = 0
        without, self.double_negative = marks("without"), marks("double_negatives")
        self.without = without
        self.masked = covered("idioms")
        self.denial_end = [-1] * n  # where a denial phrase starting here ends
        for start, end in spans.get("denials", ()):
            self.denial_end[start] = max(self.denial_end[start], end)
        # Where a "but now I am" starts that ends its clause (not "but now I am fine").
        self.reaffirmed = sorted({s for s, e in spans.get("reaffirmed", ()) if e >= n or breaks[e]})

        # Places: sentence, clause, segment and part ids per token (a break token belongs to what it ends). A part is
        # a clause cut at commas and at the pair breaks ("and", "when"): where the halves of an "A & B" phrase meet.
        pair_breaks = marks("pair_breaks")
        self.sentence, self.clause, self.segment, self.part = [0] * n, [0] * n, [0] * n, [0] * n
        sentence = clause = segment = part = 0
        self.question: list[bool] = [False]
        self.segment_start: list[int] = [0]
        self.sentence_start: list[int] = [0]
        self.clause_start: list[int] = [0]
        for i, token in enumerate(tokens):
            if pair_breaks[i]:
                part += 1
            self.sentence[i], self.clause[i], self.segment[i], self.part[i] = sentence, clause, segment, part
            if token == "?":
                self.question[sentence] = True
            if token in SENTENCE_ENDS:
                sentence += 1
                self.question.append(False)
                self.sentence_start.append(i + 1)
            if breaks[i] == STRONG:
                clause += 1
                self.clause_start.append(i + 1)
            if breaks[i] == STRONG or token == ",":
                part += 1
            if breaks[i]:
                segment += 1
                self.segment_start.append(i + 1)

        def per(place: list[int], name: str, *, unless_negated: bool = False) -> set[int]:
            found = set()
            for i in starts.get(name, ()):
                if unless_negated and self._negated_at(i):
                    continue
                found.add(place[i])
            return found

        # "The knee is worse" tells nothing new of a sign said beside it ("out of breath on the hill as per usual, the
        # ache behind my knee is worse").
        knee_news = covered("not_newness")
        starts["newness"] = [i for i in starts.get("newness", ()) if not knee_news[i]]
        self.sentence_newness = per(self.sentence, "newness", unless_negated=True)
        self.segment_newness = per(self.segment, "newness", unless_negated=True)
        # What outweighs a baseline: news, not the time of an exercise ("did hill sprints today").
        exercise_time = covered("activity_time")
        starts["news"] = [i for i in starts.get("newness", ()) if not exercise_time[i]]
        self.sentence_news = per(self.sentence, "news", unless_negated=True)
        self.segment_baseline = self._baselined(subjects, marks("sequence"), starts.get("baseline", ()))
        self.crisis_denied_from: dict[int, int] = {}  # per segment, where its first crisis denial starts
        for i in starts.get("crisis_denials", ()):
            self.crisis_denied_from.setdefault(self.segment[i], i)
        # "That's normal for me." states a baseline; "is that normal?" and "idk if that's normal" ask whether it is
        # one, and state nothing. Opening a sentence of its own ("... normal no? Always been like that."), it speaks
        # of the sentence before it too.
        wondering = {end for _, end in spans.get("hypothetical", ())}
        self.sentence_baseline = set()
        for h in context.get("baseline_after", ()):
            at = self.sentence[h.start]
            if (
                self._closes_clause(h.end)
                and not any(said_no[j] for j in range(max(0, h.start - 2), h.start) if self.sentence[j] == at)
                and not (h.end < n and tokens[h.end] == "?")
                and h.start not in wondering
            ):
                self.sentence_baseline.add(at)
                if at and h.start - self.sentence_start[at] <= 1:
                    self.sentence_baseline.add(at - 1)
        self.clause_generic = per(self.clause, "generic")
        self.sentence_future = per(self.sentence, "future")
        # "Right now I feel fine." closing its clause; not "right now I'm fine otherwise" (but for the sign). It makes
        # nothing of a sign only supposed ("what should I do if I get ..."), never of one asked about ("what if this
        # swelling is a clot?").
        self.fine_now = any(
            not self._negated_at(start) and self._closes_clause(end) for start, end in spans.get("fine_now", ())
        )
        self.sentence_personal = per(self.sentence, "speaker") | per(self.sentence, "other_people")
        self.person = bytearray(n)
        for name, whose in (("other_people", OTHER), ("anyone", ANYONE), ("speaker", WRITER)):  # the last one wins
            for i in starts.get(name, ()):
                self.person[i] = whose
        # Words that look like the past and are not ("have had a", "in the past hour", "not used to"): no history
        # phrase or past event starts inside them.
        not_past = covered("not_past")
        for name in ("history", "past_events"):
            starts[name] = [i for i in starts.get(name, ()) if not not_past[i]]
        # An animal named at the start of its clause ("my dog", "mi perro"), as its subject; not inside an idiom
        # ("cat scan").
        # Marked at its last word, the noun ("my cat"): what is found nearest before a sign.
        self.animal = bytearray(n)
        for start, end in spans.get("animals", ()):
            if start - self.clause_start[self.clause[start]] <= 1 and not self.masked[end - 1]:
                self.animal[end - 1] = 1
        # A player seen on a screen, opening their part of a sentence that says so ("vi el resumen del partido, el
        # jugador se dislocó la rodilla"): what happens to them is no one's here, as with an animal.
        watched = per(self.sentence, "watching")
        for start, end in spans.get("players", ()):
            if self.sentence[start] in watched and self._opens_segment(start) and not self.masked[end - 1]:
                self.animal[end - 1] = 1
        self.attack = marks("animal_attacks")
        self.segment_history, self.clause_history = self._history(starts, context)
        # "I fainted 3 years ago and again this morning": a recurrence opening a later part of the sentence, itself not
        # in the past, makes a sign of the past current.
        self.sentence_recurrence = {
            self.sentence[i]
            for i in starts.get("recurrence", ())
            if self._opens_segment(i) and not self._negated_at(i) and self.segment[i] not in self.segment_history
        }
        self.segment_continues = {self.segment[i] for i in starts.get("continuation", ()) if self._opens_segment(i)}
        self.hypothetical = self._latest(starts, ("hypothetical",), self.clause)
        self.in_question = self._latest(starts, ("question_hypothetical", "asking"), self.clause)
        self.supposed = self._latest(starts, ("question_hypothetical",), self.clause)
        # "had a patient collapse on the ward", not "just had a patient collapse" (one with the writer now)
        self.segment_at_work = {self.segment[i] for i in starts.get("at_work", ()) if not not_past[i]}
        self.past_event = self._latest(starts, ("past_events",), self.segment)

    # --- building ------------------------------------------------------------------------------------------------

    def _negated_at(self, i: int) -> bool:
        """A negator just before token i ("nothing new", "not different")."""
        return any(self.negator[j] for j in range(max(0, i - 2), i) if not self.breaks[j])

    def _closes_clause(self, end: int) -> bool:
        """A phrase ending here ends its clause: at the message's end or before a break ("always have been.")."""
        return end >= len(self.tokens) or bool(self.breaks[end])

    def _closes_clause_near(self, end: int) -> bool:
        """A phrase that, but for at most one word after it ("back in 2012 lol"), is the rest of its clause."""
        return self._closes_clause(end) or (self._closes_clause(end + 1) and self.breaks[end] == 0)

    def _opens_segment(self, i: int) -> bool:
        """Within the first two words of its segment ("was short of breath", "I was short of breath")."""
        return i - self.segment_start[self.segment[i]] <= 1

    def _listed_after_history(self, start: int) -> bool:
        """A sign opening its segment right after a past one joined by "and" ("a chest infection in January that left me
        wheezy and short of breath"), that one dated itself or continuing a dated clause ("she had a reaction in 2019
        after a party, had hives and swollen lips"): the same past, listed. Not after a comma: "dvt in 2019, can't
        breathe" is a history and a sign now."""
        segment = self.segment[start]
        opener = self.segment_start[segment] - 1
        before = segment - 1
        return (
            segment > 0
            and start == self.segment_start[segment]
            and self.tokens[opener] == "and"
            and (
                before in self.segment_history
                or (before in self.segment_continues and self.clause[opener] in self.clause_history)
            )
        )

    def _history(
        self, starts: Mapping[str, list[int]], context: Mapping[str, Iterable[Hit]]
    ) -> tuple[set[int], set[int]]:
        """Segments and clauses holding a history phrase that no "since" before it makes current; the segment
        before one opened by a time word ("coughed up blood when he had TB in the 80s"): the time clause dates it;
        the time clause that closes a dated segment with no pause ("found out in 2015 when my lips swelled up"): the
        same past; and the sentence before one opened by a look back ("I fainted at a wedding. That was 4 years
        ago.")."""
        first_since: dict[int, int] = {}
        for i in starts.get("since", ()):
            first_since.setdefault(self.segment[i], i)
        dating = set(starts.get("dating", ()))
        # A look back right before its history, in a sentence that says nothing new and nothing again.
        changed = self.sentence_newness | {self.sentence[r] for r in starts.get("recurrence", ())}
        looking_back = {
            h.end
            for h in context.get("looking_back", ())
            if h.start == self.sentence_start[self.sentence[h.start]] and self.sentence[h.start] not in changed
        }
        ends: dict[int, int] = {}
        for h in context.get("history", ()):
            ends[h.start] = max(ends.get(h.start, h.end), h.end)
        segments, clauses = set(), set()
        for i in starts.get("history", ()):
            segment = self.segment[i]
            since = first_since.get(segment)
            if since is None or since > i:
                segments.add(segment)
                clauses.add(self.clause[i])
                # A phrase opened by a break word ("as a kid", "antes de morir") dates what follows that word too.
                if self.breaks[i] and i + 1 < len(self.tokens):
                    segments.add(self.segment[i + 1])
                    clauses.add(self.clause[i + 1])
                opener = self.segment_start[segment] - 1
                if segment and opener in dating and self.clause[opener] == self.clause[i]:
                    segments.add(segment - 1)
                if segment + 1 < len(self.segment_start):
                    closer = self.segment_start[segment + 1] - 1
                    if closer > i and closer in dating and self.tokens[closer - 1] not in PUNCTUATION_BREAKS:
                        segments.add(segment + 1)
                if segment and i == self.segment_start[segment] and self._closes_clause_near(ends[i]):
                    # A time said after the rest, in a part of its own: "my mom fainted at my wedding, back in 2012."
                    for j in range(self.segment_start[segment] - 1, -1, -1):
                        if self.clause[j] != self.clause[i]:
                            break
                        segments.add(self.segment[j])
                if i in looking_back or i - 1 in looking_back:
                    before = self.sentence[i] - 1
                    for j in range(self.sentence_start[before], self.sentence_start[before + 1]):
                        segments.add(self.segment[j])
                        clauses.add(self.clause[j])
        return segments, clauses

    def _baselined(self, subjects: bytearray, sequence: bytearray, baselines: Iterable[int]) -> set[int]:
        """The segments a baseline speaks of: its whole clause where it opens the clause ("as usual, out of puff on the
        hill"); else what its clause says up to it, and on to the next part that opens a new event, with a subject or
        a word of sequence ("out of breath like always, and my chest is crushing"; "..., then coughed up blood").
        One pass over each clause that holds one."""
        n = len(self.tokens)
        upto: dict[int, int] = {}  # per clause, the segment of its last baseline
        whole: set[int] = set()  # clauses a baseline opens
        for i in baselines:
            clause = self.clause[i]
            upto[clause] = max(upto.get(clause, 0), self.segment[i])
            if i - self.clause_start[clause] <= 1:
                whole.add(clause)
        covered: set[int] = set()
        last = len(self.segment_start) - 1
        for clause, until in upto.items():
            segment = self.segment[self.clause_start[clause]]
            while segment <= last and (at := self.segment_start[segment]) < n and self.clause[at] == clause:
                fresh = subjects[at] or sequence[at] or (at and sequence[at - 1])
                if segment > until and fresh and clause not in whole:
                    break
                covered.add(segment)
                segment += 1
        return covered

    def _latest(self, starts: Mapping[str, list[int]], names: tuple[str, ...], place: list[int]) -> list[int]:
        """Per token, the start of the latest phrase of `names` at or before it in the same place; -1 if none."""
        at = bytearray(len(self.tokens))
        for name in names:
            for i in starts.get(name, ()):
                at[i] = 1
        latest, last, where = [-1] * len(self.tokens), -1, -1
        for i in range(len(self.tokens)):
            if place[i] != where:
                last, where = -1, place[i]
            if at[i]:
                last = i
            latest[i] = last
        return latest

    # --- reading a phrase --------------------------------------------------------------------------------------------

    def status(
        self, hit: Hit, *, crisis: bool = False, weak: bool = False, ever: bool = False, animals: bool = True
    ) -> Status:
        """What a phrase found at `hit` says, where it stands. `ever`: the past counts too (a risk factor).
        `animals`: a phrase said of an animal is none of a person's (not for a sign a flag needs: the wound in "the
        dog bit my arm and it's spurting" is the writer's)."""
        start = hit.start
        if any(self.masked[i] for i in range(start, hit.end)):
            return Status.off
        if animals and not crisis and self._of_animal(hit):
            return Status.off
        denied = self.negated(hit, CRISIS_REACH if crisis else NEGATION_REACH) or (
            not crisis and self.denied_after(hit)
        )
        if denied and (crisis or not self._reaffirmed(hit)):
            return Status.denied
        if crisis and self.crisis_denied_from.get(self.segment[start], start) < start:
            return Status.denied
        segment, clause, sentence = self.segment[start], self.clause[start], self.sentence[start]
        historic = segment in self.segment_history or (
            clause in self.clause_history and (segment in self.segment_continues or self._listed_after_history(start))
        )
        recurs = sentence in self.sentence_recurrence
        if historic and segment not in self.segment_newness and not recurs and not ever:
            return Status.off
        if crisis:
            return Status.unsure if weak else Status.live
        if ever:
            return Status.unsure if weak else Status.live
        if segment in self.segment_at_work:
            return Status.off
        baseline = segment in self.segment_baseline or sentence in self.sentence_baseline
        if baseline and sentence not in self.sentence_news:
            return Status.off
        if clause in self.clause_generic:
            return Status.off
        if self.question[sentence]:
            if sentence in self.sentence_future:
                return Status.off
            if self.supposed[start] >= 0 and self.fine_now:
                return Status.off
            if self.in_question[start] >= 0 or self.hypothetical[start] >= 0:
                return Status.unsure
            if sentence not in self.sentence_personal:
                return Status.unsure  # a general question: "can a clot cause chest pain?"
        elif self.hypothetical[start] >= 0:
            # "what if I get a clot on my flight next month": a worry about a time to come, no sign now
            supposed_only = self.supposed[start] >= 0 and self.fine_now
            return Status.off if sentence in self.sentence_future or supposed_only else Status.unsure
        if self.past_event[start] >= 0 and segment not in self.segment_newness:
            return Status.unsure
        return Status.unsure if weak else Status.live

    def _of_animal(self, hit: Hit) -> bool:
        """A sign said of an animal: the one named opening the clause is the nearest one named before the phrase, in
        the same part of the sentence, and no one is named in it ("my dog collapsed after the walk", "mi gato se pone
        a jadear"); not "my dog knocked me over, I can't breathe", "my dog died and since then chest pain", nor
        "walking my dog, fainted"."""
        # Words of another inside the phrase are the animal's or the player's own ("the striker dislocated his knee").
        if WRITER in self.person[hit.start : hit.end] or ANYONE in self.person[hit.start : hit.end]:
            return False
        segment = self.segment[hit.start]
        for i in range(hit.start - 1, self.segment_start[segment] - 1, -1):
            if self.animal[i]:
                return True
            if self.person[i] or self.attack[i]:
                return False
        return False

    def of_someone_else(self, hit: Hit) -> bool:
        """Whether a phrase that speaks of another person is said of one here: no word of the writer's in it, and
        the person named nearest before it in its sentence is someone else ("my son ... wants to die", "he says he
        wants to die"), or, with none named before, the phrase names one ("wants to kill himself"). "I want to die",
        "if someone saved up their pills" and a phrase with nobody named are the writer's."""
        inside = self.person[hit.start : hit.end]
        if WRITER in inside:
            return False
        sentence = self.sentence[hit.start]
        for i in range(hit.start - 1, -1, -1):
            if self.sentence[i] != sentence:
                break
            if self.person[i]:
                return self.person[i] == OTHER
        return OTHER in inside

    def negated(self, hit: Hit, reach: int) -> bool:
        """A negator in the phrase's gaps, or before it within its reach: not across a break, except a list's comma."""
        # "chest does not hurt"; but a phrase that starts with a negation, or a crisis phrase ("better off if I was
        # not here"), keeps the words of its gaps.
        if reach > CRISIS_REACH and not self.negator[hit.start] and any(self.negator[i] for i in hit.gaps):
            return True
        budget, j = reach, hit.start - 1
        while j >= 0 and budget > 0 and hit.start - j <= MOST_LOOKED_BACK:
            if self.breaks[j] and not (reach > CRISIS_REACH and self.list_comma[j]):
                return False
            if self.lists[j]:
                budget += LIST_REACH
            elif not self.transparent[j]:
                budget -= 1
            if self.negator[j]:
                # "without" after a negative is a positive: "can't walk without panting".
                return not (self.without[j] and self._doubled(j))
            j -= 1
        return False

    def _reaffirmed(self, hit: Hit) -> bool:
        """A denied sign said to be here now, soon after it, in its sentence or the next: "wasn't short of breath
        before but now I am", "no chest pain until today", "I wasn't dizzy before. Now I am."."""
        sentence = self.sentence[hit.start]
        return any(
            hit.end <= s <= hit.end + REAFFIRM_REACH and self.sentence[s] - sentence <= 1 for s in self.reaffirmed
        )

    def _doubled(self, j: int) -> bool:
        """A negative before, in the same clause and with no punctuation between: "can't walk across the room without
        panting", but not "no fever, without shortness of breath"."""
        for k in range(j - 1, max(-1, j - 1 - DOUBLE_NEGATIVE_REACH), -1):
            if self.tokens[k] in PUNCTUATION_BREAKS or self.breaks[k] == STRONG:
                return False
            if self.double_negative[k]:
                return True
        return False

    def denied_after(self, hit: Hit) -> bool:
        """Answered no right after: "chest pain? no", "fainting: none", "coughing blood - never". Not after a comma
        ("chest pain, none before today" is chest pain new today), nor a phrase that is itself a negative, followed
        straight on by its "nothing": "no puedo orinar nada" (negative concord)."""
        tokens, j, n = self.tokens, hit.end, len(self.tokens)
        while j < n and tokens[j] in ("?", ":"):
            j += 1
        if j == hit.end and self.negator[hit.start]:
            return False
        denied = False
        while j < n and not self.breaks[j]:
            if self.denial_end[j] < 0:
                return False
            denied, j = True, self.denial_end[j]
        return denied
