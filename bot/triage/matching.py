"""Free text to answers and commands, once for every channel: "1", "y", "si", "no sé", "3 days", "STOP". Pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from bot.triage.flow import UNSURE, FlowDefinition, Node
from bot.triage.text import normalise

YES = frozenset({"yes", "y", "yeah", "yep", "yup", "ya", "si", "s", "sure", "correct", "claro", "afirmativo"})
NO = frozenset(
    {
        "no",
        "n",
        "nope",
        "nah",
        "none",
        "nothing",
        "neither",
        "no none",
        "none of these",
        "none of them",
        "ninguno",
        "ninguna",
        "ninguna de estas",
        "nada",
        "no tengo",
    }
)
NOT_SURE = frozenset(
    {
        "not sure",
        "unsure",
        "dont know",
        "do not know",
        "i dont know",
        "idk",
        "dunno",
        "maybe",
        "no se",
        "no lo se",
        "no estoy seguro",
        "no estoy segura",
        "quizas",
        "tal vez",
        "skip",
        "?",
    }
)

COMMANDS: Mapping[str, str] = {
    **dict.fromkeys(["start", "unstop", "empezar", "comenzar"], "start"),
    **dict.fromkeys(["restart", "reiniciar", "empezar de nuevo", "start again", "start over", "new"], "restart"),
    **dict.fromkeys(["back", "undo", "atras", "volver"], "back"),
    **dict.fromkeys(["help", "ayuda", "info"], "help"),
    **dict.fromkeys(["language", "idioma", "lengua"], "language"),
    **dict.fromkeys(["english", "ingles", "in english"], "language:en"),
    **dict.fromkeys(["espanol", "en espanol", "spanish"], "language:es"),
    **dict.fromkeys(["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "parar", "alto", "baja"], "stop"),
    **dict.fromkeys(["delete", "delete my data", "borrar", "eliminar", "borrar mis datos"], "delete"),
    **dict.fromkeys(
        [
            "human",
            "person",
            "agent",
            "talk to someone",
            "speak to someone",
            "talk to a person",
            "speak to a person",
            "talk to a human",
            "speak to a human",
            "real person",
            "humano",
            "persona",
            "hablar con alguien",
            "hablar con una persona",
            "quiero hablar con alguien",
        ],
        "human",
    ),
}

_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)")
_NUMBERED = re.compile(r"(?:option |opcion |#)?(\d{1,2})[.)]?")
_DURATION = re.compile(r"(?:about |around |unos |unas |como |hace |for |over )?(\d+(?:[.,]\d+)?)\s*([a-z]*)")
_UNITS: tuple[tuple[str, float], ...] = (
    (r"min|minute|minuto", 1 / 1440),
    (r"h|hr|hrs|hour|hora", 1 / 24),
    (r"d|day|dia", 1.0),
    (r"w|wk|week|semana", 7.0),
    (r"month|mes|meses", 30.0),
    (r"y|yr|year|ano|anos", 365.0),
)
_WORD_DURATIONS: Mapping[str, float] = {
    "today": 0.25,
    "this morning": 0.25,
    "tonight": 0.1,
    "hoy": 0.25,
    "esta manana": 0.25,
    "yesterday": 1.0,
    "since yesterday": 1.0,
    "ayer": 1.0,
    "desde ayer": 1.0,
    "a day": 1.0,
    "one day": 1.0,
    "un dia": 1.0,
    "half a day": 0.5,
    "medio dia": 0.5,
    "a couple of days": 2.0,
    "couple of days": 2.0,
    "a few days": 3.0,
    "unos dias": 3.0,
    "few days": 3.0,
    "a week": 7.0,
    "one week": 7.0,
    "una semana": 7.0,
    "two weeks": 14.0,
    "dos semanas": 14.0,
    "a month": 30.0,
    "un mes": 30.0,
    "a few hours": 0.15,
    "unas horas": 0.15,
    "an hour": 1 / 24,
    "una hora": 1 / 24,
}


def parse_command(text: str) -> tuple[str, str] | None:
    """A whole message that is a command word, e.g. "STOP" or "/language es" -> ("language", "es")."""
    return command_in(normalise(text))


def command_in(norm: str) -> tuple[str, str] | None:
    """parse_command for text already normalised (the engine normalises each message once)."""
    norm = norm.lstrip("/").strip()
    name, _, arg = norm.partition(" ")
    if name in {"language", "idioma"} and arg in {"en", "es"}:
        return "language", arg
    found = COMMANDS.get(norm)
    if found is None:
        return None
    command, _, argument = found.partition(":")
    return command, argument


def match_answer(flow: FlowDefinition, node_id: str, text: str, labels: Mapping[str, str] | None = None) -> str | None:
    """The answer id this text gives to the node's question, or None when it is not clear."""
    return answer_in(flow, node_id, normalise(text), labels)


def answer_in(flow: FlowDefinition, node_id: str, norm: str, labels: Mapping[str, str] | None = None) -> str | None:
    """match_answer for text already normalised."""
    node = flow.nodes[node_id]
    norm = norm.strip(" .!")
    if node.kind == "number":
        return _match_number(node, norm)
    return _match_choice(flow, node_id, node, norm, labels or {})


def _match_choice(flow: FlowDefinition, node_id: str, node: Node, norm: str, labels: Mapping[str, str]) -> str | None:
    ids = [c.id for c in node.choices]
    numbered = _NUMBERED.fullmatch(norm)
    if numbered:
        n = int(numbered.group(1))
        return ids[n - 1] if 1 <= n <= len(ids) else None
    if norm in NOT_SURE and UNSURE in ids:
        return UNSURE
    if norm in YES:
        return next((c.id for c in node.choices if c.id == "yes" or c.means_yes), None)
    if norm in NO:
        return next((i for i in ("no", "none") if i in ids), None)
    hits = []
    for c in node.choices:
        label = labels.get(flow.label_key(node_id, c))
        if not label:
            continue
        known = _normalised(label)
        if norm == known or (len(norm) >= 4 and _contains_words(known, norm)):
            hits.append(c.id)
    return hits[0] if len(hits) == 1 else None


# Labels come from the catalog, not from people: normalise each once, not on every typed answer.
@functools.lru_cache(maxsize=2048)
def _normalised(label: str) -> str:
    return normalise(label)


def _contains_words(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def _match_number(node: Node, norm: str) -> str | None:
    if norm in NOT_SURE:
        return UNSURE
    value = parse_days(norm) if node.parse == "days" else _first_number(norm)
    if value is None or not node.min <= value <= node.max:
        return None
    if node.parse == "integer":
        if value != int(value):
            return None
        return str(int(value))
    return f"{round(value, 3):g}"


def _first_number(norm: str) -> float | None:
    m = _NUMBER.search(norm)
    return float(m.group(1).replace(",", ".")) if m else None


def parse_days(norm: str) -> float | None:
    """ "3", "3 days", "2 weeks", "12 hrs", "dos semanas", "since yesterday" -> days."""
    if norm in _WORD_DURATIONS:
        return _WORD_DURATIONS[norm]
    m = _DURATION.fullmatch(norm)
    if m is None:
        return None
    value = float(m.group(1).replace(",", "."))
    unit = m.group(2).rstrip("s") if len(m.group(2)) > 1 else m.group(2)
    if not unit:
        return value
    for pattern, factor in _UNITS:
        if re.fullmatch(pattern, unit):
            return value * factor
    return None
