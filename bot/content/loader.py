"""Loads flows/*.yaml and locales/<lang>/ (message catalogs and vocabulary) once at start-up and checks them
together; fails fast."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.content.catalog import Catalog, placeholders
from bot.triage import advice, rules, safety
from bot.triage.findings import BOOLEAN_FINDINGS, CAUSES
from bot.triage.flow import FlowDefinition
from bot.triage.language import Language, Vocabulary, WordsFile, build_language
from bot.triage.red_flag_words import RedFlagWords
from bot.triage.red_flags import RedFlagTable

ROOT = Path(__file__).resolve().parent.parent.parent
# PyYAML's safe loader, in C where libyaml is there (ten times faster on the long vocabulary files).
_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Clinical tables kept beside the flows: data, not flows.
RED_FLAGS = "redflags"


class ContentError(Exception):
    pass


@dataclass(frozen=True)
class Content:
    flows: dict[str, FlowDefinition]
    catalog: Catalog
    language: Language
    red_flags: RedFlagTable
    vocabularies: dict[str, Vocabulary]

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
        if path.stem == RED_FLAGS:
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
    table = _red_flags(root / "flows" / f"{RED_FLAGS}.yaml")
    vocabularies = {locale: _vocabulary(root / "locales" / locale) for locale in messages}
    try:
        language = build_language(vocabularies, red_flags=table)
    except ValueError as e:
        raise ContentError(f"vocabulary: {e}") from None
    content = Content(flows, Catalog(messages), language, table, vocabularies)
    problems = list(check(content))
    if problems:
        raise ContentError(f"{len(problems)} problem(s): " + "; ".join(problems[:10]))
    return content


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
            red_flags=RedFlagWords.model_validate(read("redflags")),
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
    needed = set().union(*(f.message_keys() for f in content.flows.values()))
    needed |= {r.why for r in rules.RULES} | {f"cause.{c}" for c in CAUSES} | set(advice.ALL_KEYS)
    needed |= {key for flag in content.red_flags.flags for key in safety.message_keys(flag.id)} | set(safety.KEYS)
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
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE)
    except yaml.YAMLError as e:
        raise ContentError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping at the top")
    return data


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
