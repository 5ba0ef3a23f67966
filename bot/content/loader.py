"""Loads flows/*.yaml (the flows, and the country table beside them) and locales/<lang>/ (message catalogs and
vocabulary) once at start-up and checks them together; fails fast."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.content.catalog import Catalog, placeholders
from bot.triage import advice, reading, red_flags, rules
from bot.triage.emergency import UNKNOWN_NUMBER, CountryTable
from bot.triage.findings import CAUSES
from bot.triage.flow import FlowDefinition
from bot.triage.language import Language, Vocabulary, WordsFile, build_language
from bot.triage.phrasebook import COMMANDS, SHARED_CHOICES, AnswersFile
from bot.triage.text import clean, split_words

ROOT = Path(__file__).resolve().parent.parent.parent
COUNTRIES = "countries.yaml"  # a data table beside the flows, not a flow


class ContentError(Exception):
    pass


@dataclass(frozen=True)
class Content:
    flows: dict[str, FlowDefinition]
    catalog: Catalog
    language: Language
    countries: CountryTable

    @property
    def intake(self) -> FlowDefinition:
        return self.flows["intake"]

    @property
    def checkin(self) -> FlowDefinition:
        return self.flows["checkin"]

    def labels(self) -> dict[str, dict[str, str]]:
        return {locale: dict(self.catalog.labels(locale)) for locale in self.catalog.locales}


@functools.cache
def load_content(root: Path = ROOT) -> Content:
    flows: dict[str, FlowDefinition] = {}
    for path in sorted((root / "flows").glob("*.yaml")):
        if path.name == COUNTRIES:
            continue
        try:
            flow = FlowDefinition.model_validate(_yaml(path))
        except ValidationError as e:
            raise ContentError(f"{path.name}: {_first_error(e)}") from None
        if flow.id != path.stem:
            raise ContentError(f"{path.name}: flow id {flow.id!r} must match the file name")
        flows[flow.id] = flow
    messages: dict[str, dict[str, str]] = {}
    for folder in sorted(p for p in (root / "locales").iterdir() if p.is_dir()):
        merged: dict[str, str] = {}
        for path in sorted(folder.glob("*.yaml")):
            raw = _yaml(path)
            data = {k: v for k, v in raw.items() if isinstance(v, str)}
            if len(data) != len(raw):
                raise ContentError(f"{folder.name}/{path.name}: every entry must be `key: text`")
            if dup := merged.keys() & data.keys():
                raise ContentError(f"{folder.name}/{path.name}: keys defined twice: {', '.join(sorted(dup))}")
            merged.update(data)
        messages[folder.name] = merged
    vocabularies = {locale: _vocabulary(root / "locales" / locale) for locale in messages}
    label_keys = set().union(*(f.label_keys() for f in flows.values()))
    labels = {locale: {k: v for k, v in texts.items() if k in label_keys} for locale, texts in messages.items()}
    try:
        language = build_language(vocabularies, labels=labels, known=_words(messages))
    except ValueError as e:
        raise ContentError(f"vocabulary: {e}") from None
    content = Content(flows, Catalog(messages), language, _countries(root / "flows" / COUNTRIES))
    problems = list(check(content))
    if problems:
        raise ContentError(f"{len(problems)} problem(s): " + "; ".join(problems[:10]))
    return content


def _countries(path: Path) -> CountryTable:
    if not path.exists():
        raise ContentError(f"flows/{path.name} is missing")
    try:
        return CountryTable.model_validate(_yaml(path))
    except ValidationError as e:
        raise ContentError(f"{path.name}: {_first_error(e)}") from None


def _words(messages: dict[str, dict[str, str]]) -> set[str]:
    """Every word of every message, in every locale: real words the speller must leave as they are."""
    return {
        w.replace("'", "") for texts in messages.values() for text in texts.values() for w in split_words(clean(text))
    }


def _vocabulary(folder: Path) -> Vocabulary:
    """locales/<lang>/vocabulary/*.yaml, each checked against its model in bot.triage."""
    where = folder / "vocabulary"

    def read(name: str) -> object:
        path = where / f"{name}.yaml"
        return _yaml(path) if path.exists() else {}

    try:
        words = WordsFile.model_validate(read("words"))
        answers = AnswersFile.model_validate(read("answers"))
        return Vocabulary(locale=folder.name, words=words, answers=answers)
    except ValidationError as e:
        raise ContentError(f"{folder.name}/vocabulary: {_first_error(e)}") from None


def check(content: Content) -> Iterator[str]:
    catalog = content.catalog
    for required in ("intake", "checkin"):
        if required not in content.flows:
            yield f"flows/{required}.yaml is missing"
    needed = set().union(*(f.message_keys() for f in content.flows.values()))
    needed |= {r.why for r in rules.RULES} | {f"cause.{c}" for c in CAUSES}
    needed |= {f"flag.{f.id}" for f in red_flags.RED_FLAGS} | set(advice.ALL_KEYS) | reading.REPLY_KEYS
    needed |= {key for r in rules.RULES for key in (r.action, r.detail) if key}
    needed |= {UNKNOWN_NUMBER} | {row.crisis.message for row in content.countries.countries.values() if row.crisis}
    reference = catalog.keys("en")
    for locale in catalog.locales:
        keys = catalog.keys(locale)
        for key in sorted(needed - keys):
            yield f"{locale}: missing message {key}"
        for key in sorted(reference ^ keys):
            yield f"{locale}: {key} is in only one of en and {locale}"
        for key in sorted(reference & keys):
            if placeholders(catalog.raw(key, locale)) != placeholders(catalog.raw(key, "en")):
                yield f"{locale}: {key} has other placeholders than en"
    yield from _answer_words(content)


def _answer_words(content: Content) -> Iterator[str]:
    """Every choice can be given in words (its own or its label) and every command is a word, in every locale;
    every choice key in an answers file names a choice that exists."""
    flows = content.flows.values()
    own = {f"{f.id}.{n}.{c.id}": f.label_key(n, c) for f in flows for n, node in f.nodes.items() for c in node.choices}
    labels = set(own.values())
    for locale in content.catalog.locales:
        answers = content.language.answers.files.get(locale, AnswersFile())
        where = f"{locale}/vocabulary/answers.yaml"
        for key, label in sorted(own.items()):
            if not (answers.choices.get(key) or answers.choices.get(label) or content.catalog.has(label, locale)):
                yield f"{where}: the choice {key} has no words and no label"
        for key in sorted(set(answers.choices) - labels - set(own)):
            yield f"{where}: {key} is no choice of any flow"
        for key in SHARED_CHOICES:
            if not answers.choices.get(key):
                yield f"{where}: no words for {key}"
        for command in COMMANDS:
            if not answers.commands.get(command):
                yield f"{where}: no words for the command {command}"


def _yaml(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ContentError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping at the top")
    return data


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
