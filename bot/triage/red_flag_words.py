"""locales/<lang>/vocabulary/redflags.yaml, checked: how one language says each red flag, and the words the screen
reads them in context with (negation, history, hypotheticals, questions). Pure: bot.content reads the file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trigger(_Frozen):
    """One way a flag is said.

    `say`: clear statements, which interrupt at once. `ask`: weak or partial readings, worth one yes/no question first.
    A phrase "A & B" is two phrases said in the same part of a sentence (what a negation reaches), in either order and
    at any distance ("{chest} & {chest_hurt}": "my chest has honestly been feeling really tight", "a tight feeling all
    across the middle of my chest").
    `unless`: a benign reading in the same part of the sentence drops the phrase ("blood when I brush my teeth");
    `unless_sentence`: anywhere in the same sentence. `needs`: signs (see `RedFlagWords.signs`) that must also be said
    for it to count, anywhere in the message; `otherwise` is what a sign that was not mentioned at all leaves: nothing,
    or one question (a sign that was denied always leaves nothing). `someone_else`: the phrases speak of another
    person ("my son wants to kill himself"); where one is named nearest before them, or in them, and not the writer,
    the crisis reply and its questions are worded for someone worried about them (crisis flags only). `ever`: a past
    said beside them does not make them history (a wish to be with someone who died: the death is dated, the wish
    is not, "ready to go with dad (he died last year)").
    """

    say: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    unless_sentence: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    otherwise: Literal["nothing", "ask"] = "nothing"
    someone_else: bool = False
    ever: bool = False

    @model_validator(mode="after")
    def _says_something(self) -> Trigger:
        if not (self.say or self.ask):
            raise ValueError("a trigger needs phrases in `say` or `ask`")
        for phrase in (*self.say, *self.ask):
            if phrase.count(" & ") > 1 or phrase.strip().startswith("&") or phrase.strip().endswith("&"):
                raise ValueError(f"{phrase!r}: a phrase joins two halves with one ' & '")
        return self


class Sign(_Frozen):
    """Something a flag needs said beside its own words (a fever beside a hot knee, a cast beside a crushing pain);
    a plain list is its `say` phrases. `ever`: said of the past, it still counts (a clot years ago is a risk factor).
    `mention`: being named is enough, whatever is said of it (the knee in "don't touch my knee, it's red and hot")."""

    say: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    ever: bool = False
    mention: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        return {"say": data} if isinstance(data, list | tuple) else data


# The context lists, by what the screen does with them (bot/triage/clauses.py).
ContextName = Literal[
    "negators",
    "not_negating",
    "denials",
    "reaffirmed",
    "crisis_denials",
    "without",
    "double_negatives",
    "negation_ends",
    "clause_breaks",
    "pair_breaks",
    "subjects",
    "lists",
    "transparent",
    "history",
    "since",
    "dating",
    "looking_back",
    "continuation",
    "baseline",
    "baseline_after",
    "newness",
    "not_newness",
    "recurrence",
    "hypothetical",
    "question_hypothetical",
    "asking",
    "future",
    "fine_now",
    "generic",
    "speaker",
    "other_people",
    "anyone",
    "animals",
    "animal_attacks",
    "past_events",
    "not_past",
    "at_work",
    "idioms",
]


class Context(_Frozen):
    """Words that change what a phrase means; each list is phrases in the pattern language (bot/triage/lexicon.py)."""

    negators: tuple[str, ...] = ()  # "no", "not", "never", "without": negate what follows within their reach
    not_negating: tuple[str, ...] = ()  # start with a negator yet negate nothing: "not sure", "can't stop"
    denials: tuple[str, ...] = ()  # an answer after the sign: "chest pain? no", "fainting: none"
    # A sign denied only for a time gone by, then said to be here now, closing its clause: "wasn't short of breath
    # before but now I am", "no chest pain until today", "antes no me dolía el pecho pero ahora sí".
    reaffirmed: tuple[str, ...] = ()
    # Deny the crisis words after them in the same part of a sentence, however far: "no thoughts of hurting myself"
    # (crisis words are otherwise negated only by the word just before them).
    crisis_denials: tuple[str, ...] = ()
    without: tuple[str, ...] = ()  # negators a negative before them turns positive: "can't walk without panting"
    double_negatives: tuple[str, ...] = ()  # those negatives
    negation_ends: tuple[str, ...] = ()  # a negation stops here: "and", "so", "when"
    clause_breaks: tuple[str, ...] = ()  # a new clause begins: "but", "although"
    pair_breaks: tuple[str, ...] = ()  # the two halves of an "A & B" phrase are never read across these: "and", "when"
    subjects: tuple[str, ...] = ()  # after a comma, a new clause begins with these: ", I can't breathe"
    lists: tuple[str, ...] = ()  # a negation carries along a list joined by these: "no X, Y or Z"
    transparent: tuple[str, ...] = ()  # a negation reaches past these for free: "no me quiero morir", "not really"
    history: tuple[str, ...] = ()  # the past: "years ago", "as a child", "history of"
    since: tuple[str, ...] = ()  # before a history phrase, makes it current: "since my op 3 months ago"
    dating: tuple[str, ...] = ()  # opening a time clause whose history dates what came before: "when he had TB in 1980"
    # opening a sentence whose history dates the sentence before it: "That was 4 years ago."
    looking_back: tuple[str, ...] = ()
    continuation: tuple[str, ...] = ()  # past-tense openers that carry a history phrase from earlier in the clause
    baseline: tuple[str, ...] = ()  # nothing new: "like always", "for years"
    # "as always" said after the sign, closing its clause ("bit winded after the stairs, but I'm 70 and always have
    # been"): it speaks of what came before it, so it reaches the whole sentence.
    baseline_after: tuple[str, ...] = ()
    newness: tuple[str, ...] = ()  # something new: "new", "worse", "today" (outweighs a baseline)
    # Around such words, the newness is the knee's, not a sign's: "out of breath as per usual, the knee is worse".
    not_newness: tuple[str, ...] = ()
    # An exercise with its time ("did hill sprints today"): when the exercise was, nothing new of a sign beside it, so
    # it does not outweigh a baseline ("..., out of puff at the top as usual"). The past and its news are read as ever.
    activity_time: tuple[str, ...] = ()
    # A part opening with one of these, or with a subject, after a baseline said of a sign is a new event that the
    # baseline does not reach: "out of breath like always, then coughed up blood".
    sequence: tuple[str, ...] = ()
    recurrence: tuple[str, ...] = ()  # it happened again: "and again today" (outweighs the past in its sentence)
    hypothetical: tuple[str, ...] = ()  # "what if", "in case"
    question_hypothetical: tuple[str, ...] = ()  # hypothetical only within a question: "if I get", "signs of"
    asking: tuple[str, ...] = ()  # in a question, asking whether: "could this be", "am I having"
    future: tuple[str, ...] = ()  # in a question, a time to come: "next month", "on the flight"
    # Nothing of it now, said anywhere in the message: a sign only supposed (`question_hypothetical`: "what should I
    # do if I get chest pain? Right now I feel fine") is then no sign at all.
    fine_now: tuple[str, ...] = ()
    generic: tuple[str, ...] = ()  # about the world or advice given: "the leaflet", "warning signs", "told to"
    speaker: tuple[str, ...] = ()  # the person writing: "I", "my"
    other_people: tuple[str, ...] = ()  # someone else: "my mum", "he" (their symptoms count as theirs)
    anyone: tuple[str, ...] = ()  # no one in particular: a crisis said of "someone" stays the writer's
    # an animal opening its clause: a sign said of it is the animal's, no person's ("my dog collapsed after the walk")
    animals: tuple[str, ...] = ()
    # watched on a screen ("vi el resumen del partido", "watched the highlights"): a `players` word opening its part
    # of such a sentence is, like an animal, no one here ("..., el jugador se dislocó la rodilla")
    watching: tuple[str, ...] = ()
    players: tuple[str, ...] = ()
    # an animal hurting someone: what follows is the person's ("the dog attacked, pouring blood")
    animal_attacks: tuple[str, ...] = ()
    past_events: tuple[str, ...] = ()  # an event that may be long over: "had a", "tuvo un"
    # around such words, not the past: "have had a" (it is still going on), "in the past hour", "not used to"
    not_past: tuple[str, ...] = ()
    # A patient, client or resident the writer saw to at work ("nurse here, had a patient collapse on the ward"): what
    # happened to them, in that part of the sentence, is not the writer's and not someone with them needing a call.
    at_work: tuple[str, ...] = ()
    idioms: tuple[str, ...] = ()  # figures of speech, ignored: "dead on my feet"


class SafetyAnswers(_Frozen):
    """The answers to a yes/no safety question, besides the numbers and buttons of its choices."""

    yes: tuple[str, ...] = ()
    no: tuple[str, ...] = ()
    not_sure: tuple[str, ...] = ()


class RedFlagWords(_Frozen):
    """One language's red-flag vocabulary: word classes, each flag's triggers, the signs they need, the context words,
    the answers to a safety question, real words never to be corrected into a phrase's word, the short words a
    three- or four-letter typo is corrected to, and how the language's spelling sounds (`sounds`: rewrites applied in
    order, "^" and "$" for a word's start and end; a typo that sounds like a vocabulary word is read as it)."""

    classes: dict[str, tuple[str, ...]] = {}
    flags: dict[str, tuple[Trigger, ...]] = {}
    signs: dict[str, Sign] = {}
    context: Context = Context()
    answers: SafetyAnswers = SafetyAnswers()
    keep: tuple[str, ...] = ()
    short_words: tuple[str, ...] = ()
    sounds: dict[str, str] = {}
    # Words a phrase reads past between two of its words, in every language's phrases (people mix them): adverbs of
    # degree or sincerity that change nothing ("thinking seriously of ending my own life"). One word each; never a
    # negation, a time word or anything a context list reads.
    fillers: tuple[str, ...] = ()
