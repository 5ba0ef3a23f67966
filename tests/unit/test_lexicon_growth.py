"""A phrase set reads every phrase at start-up but builds its matching tree only as messages need it, straight from
each phrase's pattern: what it builds is exactly what the phrase multiplies out to. Checked against a reference that
multiplies the alternatives out (the way phrases were once read), on generated phrases."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.triage.lexicon import MAX_EXPANSIONS, Hit, PhraseError, PhraseSet

CLASSES = {"limb": ["foot", "lower leg", "(left|right) calf"], "cold": ["cold", "ice cold", "like [an] ice ... cube"]}

# --- the reference: every sequence, multiplied out, with the same checks -----------------------------------------


def expand(phrase: str, classes: Mapping[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """Every sequence of a phrase, as tokens ("...2" for a gap), in order; PhraseError's message as the set's."""
    tokens = phrase.replace("(", " ( ").replace(")", " ) ").replace("[", " [ ").replace("]", " ] ")
    tokens = tokens.replace("|", " | ").split()
    at = 0

    def alternatives(closing: str | None) -> list[tuple[str, ...]]:
        nonlocal at
        options: list[tuple[str, ...]] = []
        parts: list[list[tuple[str, ...]]] = []
        while True:
            if at == len(tokens):
                if closing:
                    raise PhraseError(f"{phrase!r}: missing {closing!r}")
                break
            token, at = tokens[at], at + 1
            if token == closing:
                break
            if token in (")", "]"):
                raise PhraseError(f"{phrase!r}: unexpected {token!r}")
            if token == "|":
                options += multiply(parts)
                parts = []
            elif token == "(":
                parts.append(alternatives(")"))
            elif token == "[":
                parts.append([(), *alternatives("]")])
            elif token.startswith("{"):
                if token[1:-1] not in classes:
                    raise PhraseError(f"{phrase!r}: no class {token[1:-1]!r}")
                parts.append([s for member in classes[token[1:-1]] for s in expand(member, {})])
            else:
                parts.append([(token,)])
        return options + multiply(parts)

    def multiply(parts: list[list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
        total = 1
        for part in parts:
            total *= len(part)
            if total > MAX_EXPANSIONS:
                raise PhraseError(f"{phrase!r}: more than {MAX_EXPANSIONS} alternatives; split it")
        return [tuple(t for piece in combo for t in piece) for combo in product(*parts)]

    sequences = alternatives(None)
    for sequence in sequences:
        if not sequence:
            raise PhraseError(f"{phrase!r}: can match nothing")
        if sequence[0].startswith("...") or sequence[-1].startswith("..."):
            raise PhraseError(f"{phrase!r}: a gap must be between words")
    return sequences


# --- what the set builds ----------------------------------------------------------------------------------------


def grown(phrases: PhraseSet, key: str) -> set[tuple[str, ...]]:
    """Every sequence the tree holds for `key` once a message has had every word (the tree only grows)."""
    for word in sorted(phrases.words) + sorted(stem + "s" for stem in phrases.stems):
        phrases.find([word])
    found: set[tuple[str, ...]] = set()

    def walk(node: object, path: tuple[str, ...]) -> None:
        if key in node.keys:  # type: ignore[attr-defined]
            found.add(path)
        for word, child in node.words.items():  # type: ignore[attr-defined]
            walk(child, (*path, word))
        for stem, child in node.stems.items():  # type: ignore[attr-defined]
            walk(child, (*path, stem + "*"))
        for most, child in node.gaps.items():  # type: ignore[attr-defined]
            walk(child, (*path, f"...{most}"))

    walk(phrases._root, ())
    return found


def written(sequence: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("...3" if token == "..." else token for token in sequence)


WORDS = st.sampled_from(["a", "b", "c", "my", "calf", "swel*", "...", "...2", "{limb}", "{cold}", "{nope}"])


@st.composite
def phrases(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["word", "word", "group", "option", "bar"] if depth < 3 else ["word"]))
        if kind == "word":
            parts.append(draw(WORDS))
        elif kind == "bar":
            parts.append("|")
        else:
            inner = draw(phrases(depth + 1))  # type: ignore[call-arg]
            parts.append(f"({inner})" if kind == "group" else f"[{inner}]")
    return " ".join(parts)


@settings(max_examples=400, deadline=None)
@given(phrases())
def test_the_tree_holds_what_the_phrase_multiplies_out_to(phrase: str) -> None:
    try:
        expected = {written(s) for s in expand(phrase, CLASSES)}
    except PhraseError as e:
        with pytest.raises(PhraseError) as raised:
            PhraseSet({"k": [phrase]}, CLASSES)
        assert str(raised.value) == str(e)
        return
    phrases_ = PhraseSet({"k": [phrase]}, CLASSES)
    assert grown(phrases_, "k") == expected
    assert phrases_.words == {t for s in expected for t in s if not t.endswith("*") and not t.startswith("...")}
    assert phrases_.stems == {t[:-1] for s in expected for t in s if t.endswith("*")}


def test_nothing_is_built_until_a_message_has_a_phrases_first_word() -> None:
    phrases = PhraseSet({"big": ["(a|b|c|d) " * 6], "calf": ["{limb} ... {cold}"]}, CLASSES)  # 4096 sequences
    assert not phrases._root.words and not phrases._root.stems
    assert phrases.find(("my", "foot", "is", "ice", "cold")) == [Hit("calf", 1, 5, (2, 3))]
    assert set(phrases._root.words) == {"foot"}  # only the phrases beginning with a word the message has
    assert phrases.find(("b", "a", "d", "c", "a", "b")) == [Hit("big", 0, 6)]
    assert set(phrases._root.words) == {"foot", "a", "b", "c", "d"}


def test_alternatives_are_counted_not_built_up_to_the_limit() -> None:
    at_most = " ".join(["(a|b|c|d)"] * 6)  # 4^6 = 4096
    assert MAX_EXPANSIONS == 4096
    assert PhraseSet({"k": [at_most]}).find(("a",) * 6) == [Hit("k", 0, 6)]
    with pytest.raises(PhraseError, match="more than 4096 alternatives"):
        PhraseSet({"k": [f"{at_most} [e]"]})  # 8192
    seventeen = "(" + "|".join(f"w{n}" for n in range(17)) + ")"
    many = "(" + "|".join(f"x{n}" for n in range(241)) + ")"
    with pytest.raises(PhraseError, match="more than 4096 alternatives"):
        PhraseSet({"k": [f"{seventeen} {many}"]})  # 17 x 241 = 4097
    PhraseSet({"k": [f"{at_most} | {at_most}"]})  # the limit is on the parts in a row, each alternative's own


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("[a] | ... b", "can match nothing"),  # the first sequence is empty
        ("... b | [a]", "a gap must be between words"),  # the first sequence begins with a gap
        ("a (b | c ...)", "a gap must be between words"),
        ("[[a] b] | c", "can match nothing"),
    ],
)
def test_the_first_wrong_sequence_names_the_problem(phrase: str, problem: str) -> None:
    with pytest.raises(PhraseError, match=f"^{re.escape(repr(phrase))}: {problem}$"):
        PhraseSet({"k": [phrase]})


def test_a_class_member_that_cannot_be_read_names_itself() -> None:
    with pytest.raises(PhraseError, match=r"^'like ice \.\.\.': a gap must be between words$"):
        PhraseSet({"k": ["a {cold}"]}, {"cold": ["cold", "like ice ..."]})
