"""The answer words are data checked at start-up: every choice and command readable in every locale, no words for a
choice that does not exist, no phrase that can never match; and the flow says what several answers mean."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content.loader import ROOT, ContentError, load_content
from bot.triage.flow import FlowDefinition
from bot.triage.matching import read_answer
from bot.triage.reading import Answered

NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)


def copy_content(tmp_path: Path) -> Path:
    for name in ("flows", "locales"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def edit_answers(root: Path, locale: str, change: Any) -> None:
    path = root / "locales" / locale / "vocabulary" / "answers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_a_command_without_words_in_one_locale_stops_start_up(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    edit_answers(root, "es", lambda d: d["commands"].pop("human"))
    with pytest.raises(ContentError, match="es/vocabulary/answers.yaml: no words for the command human"):
        load_content(root)


def test_words_for_a_choice_that_does_not_exist_stop_start_up(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    edit_answers(root, "en", lambda d: d["choices"].update({"intake.calf.swolen": ["puffy"]}))
    with pytest.raises(ContentError, match="intake.calf.swolen is no choice of any flow"):
        load_content(root)


def test_a_choice_with_no_label_and_no_words_stops_start_up(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "locales" / "es" / "flow.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("intake.course.same:", "intake.course.igual:"))
    edit_answers(root, "es", lambda d: d["choices"].pop("intake.course.same"))
    with pytest.raises(ContentError, match="intake.course.same has no words and no label"):
        load_content(root)


def test_a_phrase_that_ends_with_an_optional_word_is_refused(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    edit_answers(root, "en", lambda d: d["choices"]["choice.none"].append("none of [them]"))
    with pytest.raises(ContentError, match="ends with an optional part"):
        load_content(root)


def test_a_phrase_that_cannot_be_read_names_its_file(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    edit_answers(root, "es", lambda d: d["choices"]["choice.yes"].append("sí"))
    with pytest.raises(ContentError, match="es/vocabulary/answers.yaml: 'sí'"):
        load_content(root)


def test_an_unquoted_yaml_no_is_caught(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    edit_answers(root, "en", lambda d: d["negation"]["words"].append(False))  # what `- no` becomes in YAML
    with pytest.raises(ContentError, match="negation.words"):
        load_content(root)


def test_only_a_choice_question_takes_several_answers(content: Any) -> None:
    data = content.intake.model_dump(by_alias=True)
    data["nodes"]["age"]["several"] = "all"
    with pytest.raises(ValueError, match="only a choice node can take several answers"):
        FlowDefinition.model_validate(data)


@pytest.mark.parametrize(
    "word",
    [
        "walking", "standing", "starting", "sleeping", "crushing", "shortness", "retention", "cauda", "throat",
        "tramadol", "cancelled", "concern", "quite", "nervous", "fewer", "children", "female", "couch", "smelling",
        "plain", "stiff", "every", "whole", "where", "color", "sobrepeso", "seguridad", "pensando", "walks", "stands",
    ],
)  # fmt: skip
def test_the_speller_leaves_real_words_alone(content: Any, word: str) -> None:
    """Answer words are targets for typos; a real word one letter away must not become one ("walking" is not
    "waking", "shortness" not "shootness", "color" not "calor", "cancelled" not "cancer")."""
    assert content.language.lexicon.read(word) == (word,)


@pytest.mark.parametrize(
    ("where", "typed", "meant"),
    [
        ("calf", "swolen", "swollen"),
        ("start_how", "gradualy", "gradual"),
        ("start_how", "sudenly", "sudden"),
        ("knee_swelling", "hinchda", "swollen"),
        ("mechanical", "unstabel", "gives_way"),
        ("clot_risk", "pregant", "hormones"),
    ],
)
def test_typos_of_answer_words_still_read(content: Any, where: str, typed: str, meant: str) -> None:
    reading = read_answer(content.language, content.intake, where, typed, NOW)
    assert reading == Answered((meant,))
