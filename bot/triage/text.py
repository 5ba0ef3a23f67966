"""Text as every locale's phrases are written: what a message becomes before any word of it is read. Pure.

Language-free: NFKC, invisible characters dropped, lowercase, no accents, one apostrophe, long letter runs squeezed.
What words mean (shorthand, spelling) is each locale's data, read by bot/triage/lexicon.py.
"""

from __future__ import annotations

import re
import unicodedata

# Texts this short ("2", "yes", "not sure", "none of these") are mostly answers many people send: the core's pure
# functions of a message remember their results for them. Longer texts, which could say something personal, are
# never kept.
SHORT_TEXT = 16

PUNCTUATION = frozenset({".", ",", ";", ":", "!", "?", "\n"})

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Invisible characters (Unicode's "format" category: zero-width space and joiners, soft hyphen, byte-order and
# direction marks, emoji tags) are dropped before anything else: "bre\u200bath" is "breath".
_INVISIBLE = dict.fromkeys(
    c for c in (*range(0x20000), *range(0xE0000, 0xE0080)) if unicodedata.category(chr(c)) == "Cf"
)
_SPLIT = re.compile(r"[0-9]+(?:\.[0-9]+)?|w/o|w/|&|/|[a-z0-9]+(?:'[a-z0-9]+)*'?|[.,;:!?\n]")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SQUEEZE = re.compile(r"([a-z])\1{2,}")
MAX_STRETCHES = 3
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_SENTENCE_OPENERS = str.maketrans({"\u00bf": " . ", "\u00a1": " ", "\u2026": " . "})


def clean(text: str, *, squeeze: bool = True) -> str:
    """Unicode NFKC, invisible characters dropped, lowercase, no accents, one kind of apostrophe, letters typed three
    or more times in a row squeezed to two ("sooooo" -> "soo"; with `squeeze=False` left for `squeezings`), a Spanish
    decimal comma as a point (38,5), an opening "¿" as a sentence break; emoji and other symbols are left for
    split_words to skip."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_APOSTROPHES).lower()
    text = _strip_accents(text).translate(_SENTENCE_OPENERS)
    text = _DECIMAL_COMMA.sub(".", text)
    return _SQUEEZE.sub(r"\1\1", text) if squeeze else text


def squeezings(word: str) -> list[str]:
    """A word with letters stretched (typed three or more times in a row) as it may have been meant: each stretched
    letter once or twice, since words have real double letters ("cantttt": "cantt", "cant"; "gooood": "good",
    "god"). Every stretch doubled comes first (what `clean` makes of it), every one single last; past three
    stretches, only those two. A word with none: itself."""
    runs = list(_SQUEEZE.finditer(word))
    if not runs:
        return [word]
    if len(runs) > MAX_STRETCHES:
        return [_SQUEEZE.sub(r"\1\1", word), _SQUEEZE.sub(r"\1", word)]
    found = [""]
    at = 0
    for run in runs:
        before = word[at : run.start()]
        found = [f + before + run[1] * 2 for f in found] + [f + before + run[1] for f in found]
        at = run.end()
    return sorted((f + word[at:] for f in found), key=len, reverse=True)


def split_words(cleaned: str) -> list[str]:
    """The words (apostrophes kept: "can't"), numbers (38.5), the SMS signs w/ w/o & /, and the punctuation tokens
    of a cleaned text; anything else separates them."""
    return _SPLIT.findall(cleaned)


def split_units(cleaned: str) -> list[tuple[str, bool]]:
    """`split_words`, each word marked when it is letters typed straight after a number, with no space between: the
    number's unit or ending ("10k", "100m", "2nd")."""
    found: list[tuple[str, bool]] = []
    after_number = -1
    for m in _SPLIT.finditer(cleaned):
        word = m.group()
        found.append((word, m.start() == after_number and word[0].isalpha()))
        after_number = m.end() if _NUMBER.fullmatch(word) else -1
    return found


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
