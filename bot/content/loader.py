"""Loads flows/*.yaml (the flows, and the country table beside them) and locales/<lang>/ (message catalogs and
vocabulary) once at start-up and checks them together; fails fast."""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.content import cache
from bot.content.catalog import CHANNEL_VARIANTS, Catalog, placeholders
from bot.triage import advice, engine, outcome, reading, rules, safety
from bot.triage.emergency import UNKNOWN_NUMBER, CountryTable
from bot.triage.finding_words import FindingsFile, said_key
from bot.triage.findings import BOOLEAN_FINDINGS, CAUSES
from bot.triage.flow import FlowDefinition
from bot.triage.language import Language, Vocabulary, WordsFile, build_language
from bot.triage.phrasebook import COMMANDS, SHARED_CHOICES, AnswersFile
from bot.triage.red_flag_words import RedFlagWords
from bot.triage.red_flags import RedFlagTable
from bot.triage.text import clean, split_words

ROOT = Path(__file__).resolve().parent.parent.parent
# PyYAML's safe loader, in C where libyaml is there (ten times faster on the long vocabulary files).
_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SAFE):  # type: ignore[misc,valid-type]
    """The safe loader, where a key given twice in one mapping is an error: YAML keeps the last one silently, so two
    edits of a vocabulary file that each add an `unless_sentence` to the same trigger would lose one of them."""


def _unique_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen and key != "<<":
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)
# Clinical tables kept beside the flows: data, not flows.
COUNTRIES = "countries"
RED_FLAGS = "redflags"


class ContentError(Exception):
    pass


@dataclass(frozen=True)
class Content:
    flows: dict[str, FlowDefinition]
    catalog: Catalog
    language: Language
    countries: CountryTable
    red_flags: RedFlagTable
    vocabularies: dict[str, Vocabulary]

    @property
    def intake(self) -> FlowDefinition:
        return self.flows["intake"]

    @property
    def checkin(self) -> FlowDefinition:
        return self.flows["checkin"]


@functools.cache
def load_content(root: Path = ROOT) -> Content:
    # Read from a copy of a previous load when nothing it was made from has changed (bot/content/cache.py).
    # Loading makes a few hundred thousand objects that live as long as the process, and no cycles worth collecting:
    # the garbage collector, run on its own, would walk them again and again as they are made, and then once more
    # on the first message. So it waits, and then sets them aside for good (`gc.freeze`) as the server does.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return cache.load(root, _load)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _load(root: Path) -> Content:
    flows: dict[str, FlowDefinition] = {}
    for path in sorted((root / "flows").glob("*.yaml")):
        if path.stem in (COUNTRIES, RED_FLAGS):
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
    words = {locale: _words({locale: texts}) for locale, texts in messages.items()}
    table = _red_flags(root / "flows" / f"{RED_FLAGS}.yaml")
    vocabularies = {locale: _vocabulary(root / "locales" / locale) for locale in messages}
    label_keys = set().union(*(f.label_keys() for f in flows.values()))
    labels = {locale: {k: v for k, v in texts.items() if k in label_keys} for locale, texts in messages.items()}
    try:
        language = build_language(
            vocabularies,
            labels=labels,
            known=set().union(*words.values()),
            red_flags=table,
            messages=words,
        )
    except ValueError as e:
        raise ContentError(f"vocabulary: {e}") from None
    countries = _countries(root / "flows" / f"{COUNTRIES}.yaml")
    content = Content(flows, Catalog(messages), language, countries, table, vocabularies)
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
    """locales/<lang>/vocabulary/*.yaml, each checked against its model in bot.triage. keep.yaml, the long generated
    list of real words never to be corrected, is read as words.yaml's `keep` too (so words.yaml stays readable)."""
    where = folder / "vocabulary"

    def read(name: str) -> object:
        path = where / f"{name}.yaml"
        return _yaml(path) if path.exists() else {}

    try:
        words = WordsFile.model_validate(read("words"))
        kept = WordsFile.model_validate(read("keep"))
        return Vocabulary(
            locale=folder.name,
            words=words.model_copy(update={"keep": (*words.keep, *kept.keep)}),
            answers=AnswersFile.model_validate(read("answers")),
            red_flags=RedFlagWords.model_validate(read("redflags")),
            findings=FindingsFile.model_validate(read("findings")),
        )
    except ValidationError as e:
        raise ContentError(f"{folder.name}/vocabulary: {_first_error(e)}") from None


def _red_flags(path: Path) -> RedFlagTable:
    """flows/redflags.yaml: the red-flag table (ids, levels, findings, sources)."""
    if not path.exists():
        raise ContentError(f"flows/{path.name} is missing")
    try:
        return RedFlagTable.model_validate(_yaml(path))
    except ValidationError as e:
        raise ContentError(f"flows/{path.name}: {_first_error(e)}") from None


def check(content: Content) -> Iterator[str]:
    catalog = content.catalog
    for required in ("intake", "checkin"):
        if required not in content.flows:
            yield f"flows/{required}.yaml is missing"
    if "checkin" in content.flows:
        for context in sorted(set(engine.CRISIS_CHECKINS) - content.checkin.starts.keys()):
            yield f"flows/checkin.yaml: no start for {context!r} (a check-in after a crisis message)"
    needed = set().union(*(f.message_keys() for f in content.flows.values()))
    needed |= {r.why for r in rules.RULES} | {f"cause.{c}" for c in CAUSES} | set(advice.ALL_KEYS)
    needed |= reading.REPLY_KEYS | {key for r in rules.RULES for key in (r.action, r.detail) if key}
    needed |= {UNKNOWN_NUMBER} | {row.crisis.message for row in content.countries.countries.values() if row.crisis}
    needed |= {key for f in content.red_flags.flags for key in safety.message_keys(f.id, f.interrupt == "crisis")}
    needed |= set(safety.KEYS)
    needed |= set(engine.MESSAGE_KEYS) | {said_key(k) for v in content.vocabularies.values() for k in v.findings.said}
    needed |= set(engine.KEYS) | set(outcome.KEYS)
    yield from _red_flag_problems(content)
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
        for key in sorted(keys):  # a channel's wording of a message takes the message's placeholders
            base, _, channel = key.rpartition(".")
            differ = base in keys and placeholders(catalog.raw(key, locale)) != placeholders(catalog.raw(base, locale))
            if channel in CHANNEL_VARIANTS and differ:
                yield f"{locale}: {key} has other placeholders than {base}"
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


def _red_flag_problems(content: Content) -> Iterator[str]:
    """Every flag has a finding from the contract (or none) and phrases in every locale; every sign a trigger needs
    is defined in every locale; no flow uses the safety question's node id."""
    table = {f.id: f for f in content.red_flags.flags}
    for flag in table.values():
        if flag.finding is not None and flag.finding not in BOOLEAN_FINDINGS:
            yield f"flows/{RED_FLAGS}.yaml: {flag.id}: {flag.finding!r} is not a finding"
    for locale, vocabulary in sorted(content.vocabularies.items()):
        words = vocabulary.red_flags
        for flag_id in sorted(table.keys() - words.flags.keys()):
            yield f"{locale}/vocabulary/redflags.yaml: no phrases for {flag_id}"
        for flag_id in sorted(words.flags.keys() - table.keys()):
            yield f"{locale}/vocabulary/redflags.yaml: {flag_id} is not in flows/{RED_FLAGS}.yaml"
        for flag_id, triggers in sorted(words.flags.items()):
            if flag_id in table and table[flag_id].interrupt != "crisis" and any(t.someone_else for t in triggers):
                yield f"{locale}/vocabulary/redflags.yaml: {flag_id}: `someone_else` is for crisis flags only"
        needed = {sign for triggers in words.flags.values() for t in triggers for sign in t.needs}
        everywhere = set.intersection(*(set(v.red_flags.signs) for v in content.vocabularies.values()))
        for sign in sorted(needed - everywhere):
            yield f"{locale}/vocabulary/redflags.yaml: the sign {sign!r} is not defined in every locale"
        for answer, said in words.answers:
            if not said:
                yield f"{locale}/vocabulary/redflags.yaml: no words for the answer {answer!r}"
    for flow in content.flows.values():
        if safety.SAFETY_NODE in flow.nodes:
            yield f"flows/{flow.id}.yaml: the node id {safety.SAFETY_NODE!r} is kept for safety questions"


def _yaml(path: Path) -> dict[str, object]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as e:
        raise ContentError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping at the top")
    return data


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
