"""Text normalisation for free text in English and Spanish (red-flag screen, answer matching). Pure."""

from __future__ import annotations

import functools
import re
import unicodedata

# SMS shorthand, contractions and common misspellings, keyed by the lowercased, accent-free word.
# One line per expansion: "variant variant ... = expansion".
_TABLE = """
can't cant cnt carnt = cannot
won't wont = will not
don't dont = do not
doesn't doesnt = does not
didn't didnt = did not
isn't isnt ain't aint = is not
aren't arent = are not
wasn't wasnt = was not
weren't werent = were not
haven't havent = have not
hasn't hasnt = has not
hadn't hadnt = had not
couldn't couldnt = could not
wouldn't wouldnt = would not
shouldn't shouldnt = should not
i'm im = i am
i've ive = i have
i'll = i will
i'd = i would
it's its = it is
that's thats = that is
there's theres = there is
he's hes = he is
she's shes = she is
what's whats = what is
you're youre = you are
they're theyre = they are
we're = we are
od'd = overdosed
u = you
ur = your
pls plz = please
b4 = before
2day = today
2nite tonite = tonight
nite = night
tmrw tmr = tomorrow
bc coz cuz cos bcoz = because
abt = about
rly realy = really
thru = through
tho = though
altho = although
evry = every
evrything = everything
evrytime everytime = every time
sum1 some1 = someone
any1 = anyone
no1 = no one
idk = i do not know
dunno = do not know
gonna = going to
wanna = want to
gotta = got to
kinda = kind of
sorta = sort of
outta = out of
ppl = people
hrs = hours
hr = hour
mins = minutes
yrs = years
yr = year
wks = weeks
wk = week
ambulence = ambulance
breth = breath
brethe = breathe
breating brething breathng = breathing
feinted fainded = fainted
feinting = fainting
bleading bleding = bleeding
coff = cough
coffing cofing coughng = coughing
swolen swollon = swollen
preasure presure = pressure
unconcious unconsious = unconscious
seisure siezure seizer = seizure
colapsed = collapsed
sucidal suicidle = suicidal
calve = calf
q = que
m = me
xq pq porq xk = porque
tmb tmbn = tambien
pa = para
nd = nada
ns = no se
bn = bien
mxo = mucho
dsd = desde
xfa porfa = por favor
aki = aqui
kiero = quiero
kien = quien
aora = ahora
nesecito = necesito
"""
# English dropped g ("gettin" -> "getting"), for the words this domain needs.
_DROPPED_G = """
gett feel walk breath bleed cough kneel go do hav pass fall fitt shak try talk sitt stand runn puff pant wheez
swell ach hurt kill think burn tingl noth someth anyth los leak spitt chok turn seiz throw throb limp start keep us
sleep bring tak com swallow wak respond climb
"""


def _parse(table: str, dropped_g: str) -> dict[str, str]:
    words: dict[str, str] = {}
    for line in table.strip().splitlines():
        variants, expansion = line.split(" = ")
        words.update(dict.fromkeys(variants.split(), expansion))
    for stem in dropped_g.split():
        words[stem + "in"] = stem + "ing"
    return words


_WORDS = _parse(_TABLE, _DROPPED_G)

_WORD_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*'?")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_DOUBLES = re.compile(r"([a-z])\1")
_WITHOUT = re.compile(r"\bw/o\b")
_WITH = re.compile(r"\bw/")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_OTHER_CHARS = re.compile(r"[^a-z0-9'.,;:!?\n]+")
_FULL_STOP = re.compile(r"(?<!\d)\.|\.(?!\d)")
_CAN_NOT = re.compile(r"\bcan not\b")
_PUNCTUATION = re.compile(r"([,;:!?\n])")
_PUNCTUATION_RUN = re.compile(r"([.,;:!?])(?:\s*\1)+")
_SPACES = re.compile(r"[ \t]+")
_NEWLINE = re.compile(r" ?\n ?")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,;:!?])")
_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})


# Invisible characters (Unicode's "format" category: zero-width space and joiners, soft hyphen, byte-order and
# direction marks, emoji tags) are dropped before anything else: "bre\u200bath" is "breath".
_INVISIBLE = dict.fromkeys(
    c for c in (*range(0x20000), *range(0xE0000, 0xE0080)) if unicodedata.category(chr(c)) == "Cf"
)
PUNCTUATION = frozenset({".", ",", ";", ":", "!", "?", "\n"})
_SPLIT = re.compile(r"[0-9]+(?:\.[0-9]+)?|w/o|w/|&|/|[a-z0-9]+(?:'[a-z0-9]+)*'?|[.,;:!?\n]")
_SQUEEZE = re.compile(r"([a-z])\1{2,}")
_SENTENCE_OPENERS = str.maketrans({"\u00bf": " . ", "\u00a1": " ", "\u2026": " . "})


def clean(text: str) -> str:
    """Text as every locale's phrases are written: Unicode NFKC, invisible characters dropped, lowercase, no accents,
    one kind of apostrophe, letters typed three or more times in a row squeezed to two ("sooooo" -> "soo"), a Spanish
    decimal comma as a point (38,5), an opening "¿" as a sentence break; emoji and other symbols are spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_APOSTROPHES).lower()
    text = _strip_accents(text).translate(_SENTENCE_OPENERS)
    text = _DECIMAL_COMMA.sub(".", text)
    return _SQUEEZE.sub(r"\1\1", text)


def split_words(cleaned: str) -> list[str]:
    """The words (apostrophes kept: "can't"), numbers (38.5), the SMS signs w/ w/o & /, and the punctuation tokens
    of a cleaned text; anything else separates them."""
    return _SPLIT.findall(cleaned)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _expand(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in _WORDS:
        return _WORDS[word]
    bare = word.strip("'")
    if bare in _WORDS:
        return _WORDS[bare]
    squeezed = _DOUBLES.sub(r"\1", bare)  # "cantt" -> "cant"
    if squeezed != bare and squeezed in _WORDS:
        return _WORDS[squeezed]
    if word.endswith("in'"):  # "feelin'" -> "feeling"
        return word[:-1] + "g"
    if word.endswith("n't"):
        return word[:-3] + " not"
    return word


# Texts this short ("2", "yes", "not sure", "none of these") are mostly answers many people send: the core's pure
# functions of a message (normalise, the red-flag screen) remember their results for them. Longer texts, which could
# say something personal, are never kept.
SHORT_TEXT = 16


def normalise(text: str) -> str:
    """Lowercase, accent-free, SMS shorthand expanded; words plus the punctuation . , ; : ! ? only.

    Most messages are short answers that many people send ("2", "no"): those are normalised once and remembered,
    as the red-flag screen does (longer texts, which could say something personal, are not kept)."""
    if len(text) <= SHORT_TEXT:
        return _normalise_short(text)
    return _normalise(text)


@functools.lru_cache(maxsize=4096)
def _normalise_short(text: str) -> str:
    return _normalise(text)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_APOSTROPHES).lower()
    text = _strip_accents(text)
    text = _WITHOUT.sub(" without ", text)
    text = _WITH.sub(" with ", text).replace("&", " and ")
    text = text.replace("\u00bf", ". ").replace("\u2026", ". ")  # an opening "¿" starts a new sentence
    text = _DECIMAL_COMMA.sub(".", text)  # Spanish decimal comma: 38,5
    text = _REPEATS.sub(r"\1\1", text)  # "sooooo" -> "soo", "bleeeding" -> "bleeding"
    text = _OTHER_CHARS.sub(" ", text)
    text = _WORD_TOKEN.sub(_expand, text)
    text = text.replace("'", "")
    text = _FULL_STOP.sub(" . ", text)  # but keep decimals such as 38.4
    text = _CAN_NOT.sub("cannot", text)
    text = _PUNCTUATION.sub(r" \1 ", text)
    text = _PUNCTUATION_RUN.sub(r"\1", text)  # "!!!" -> "!"
    text = _SPACES.sub(" ", text)
    text = _NEWLINE.sub("\n", text).strip()
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)


def tokens(text: str) -> list[str]:
    """The words of normalise(text), without punctuation."""
    return _WORD.findall(normalise(text))
