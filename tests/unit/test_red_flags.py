"""The red-flag screen against the project's phrase suite, the shared calibration set, its table and locales."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from clinical import shared
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.triage.findings import BOOLEAN_FINDINGS
from bot.triage.red_flags import RED_FLAGS, Screen, match_flags, screen

ROOT = Path(__file__).resolve().parents[2]
INTERRUPTING = {"emergency", "crisis"}
LEVELS = {"emergency", "urgent", "crisis", "none"}
RANK = {None: 0, "urgent": 1, "emergency": 2, "crisis": 3}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


SUITE: list[dict[str, Any]] = _load(ROOT / "tests" / "data" / "phrases.yaml")["messages"]


# --- the project's phrase suite ------------------------------------------------------------------------


def test_suite_is_big_enough_and_well_formed() -> None:
    ids = [case["id"] for case in SUITE]
    assert len(ids) == len(set(ids))
    assert len(SUITE) >= 75
    assert sum(case["lang"] == "es" for case in SUITE) >= 25
    for case in SUITE:
        assert {"id", "text", "lang", "expected", "category", "description"} <= case.keys(), case["id"]
        assert case["expected"] in LEVELS, case["id"]
        assert case["lang"] in ("en", "es"), case["id"]
        assert case["description"].strip(), case["id"]


def test_suite_covers_every_red_flag() -> None:
    named = {flag for case in SUITE for flag in case.get("flags", ())}
    table = {flag.id for flag in RED_FLAGS}
    assert named <= table, named - table
    assert table <= named, table - named


@pytest.mark.parametrize("case", SUITE, ids=[case["id"] for case in SUITE])
def test_phrase(case: dict[str, Any]) -> None:
    result = screen(case["text"], case["lang"])
    assert (result.interrupt or "none") == case["expected"], f"{case['description']} -> {result}"
    assert set(case.get("flags", ())) <= set(result.matched), result.matched


def test_suite_figures() -> None:
    results = [(case, screen(case["text"], case["lang"]).interrupt) for case in SUITE]
    positives = [got for case, got in results if case["expected"] in INTERRUPTING]
    negatives = [got for case, got in results if case["expected"] == "none"]
    urgent = [got for case, got in results if case["expected"] == "urgent"]
    recall = sum(got in INTERRUPTING for got in positives) / len(positives)
    specificity = sum(got is None for got in negatives) / len(negatives)
    print(f"recall {recall:.1%} on {len(positives)}, specificity {specificity:.1%} on {len(negatives)}")
    assert recall == 1.0
    assert specificity >= 0.90
    assert all(RANK[got] >= RANK["urgent"] for got in urgent)


# --- the shared calibration set ------------------------------------------------------------------------


def test_shared_calibration_phrases() -> None:
    messages = shared("phrases.yaml")["messages"]
    wrong = []
    for case in messages:
        got = screen(case["text"], case.get("lang", "en")).interrupt
        if (case["expected"] == "emergency") != (got in INTERRUPTING):
            wrong.append(f"{case['id']}: expected {case['expected']}, got {got}: {case['text']}")
    assert not wrong, "\n".join(wrong)


def test_shared_vignette_narratives() -> None:
    vignettes = shared("examples.yaml")["vignettes"]
    wrong = []
    for case in vignettes:
        got = screen(case["narrative"]).interrupt
        if (case["expected_level"] == "emergency") != (got in INTERRUPTING):
            wrong.append(f"{case['id']}: expected {case['expected_level']}, got {got}")
    assert not wrong, "\n".join(wrong)


# --- behaviour ------------------------------------------------------------------------------------------


def test_crisis_wins_over_emergency() -> None:
    result = screen("took all my sleeping pills because I want to die")
    assert result.interrupt == "crisis"
    assert result.matched == ("overdose", "suicidal")


def test_emergency_wins_over_urgent_and_findings_are_recorded() -> None:
    result = screen("my left calf is swollen and I'm short of breath")
    assert result.interrupt == "emergency"
    assert result.matched == ("short_of_breath", "calf_clot_signs")
    assert result.findings == ("short_of_breath", "calf_swelling_one_side")


def test_both_languages_are_tried_whatever_the_locale() -> None:
    assert screen("me falta el aire", "en").interrupt == "emergency"
    assert screen("I can't breathe", "es").interrupt == "emergency"


def test_general_question_is_mentioned_not_matched() -> None:
    result = screen("can a clot cause chest pain?")
    assert result == Screen(None, (), (), ("chest_pain",))


def test_nothing_to_report() -> None:
    assert screen("") == Screen(None, (), ())
    assert screen("my knee aches after running") == Screen(None, (), ())


def test_match_flags_returns_table_entries() -> None:
    assert [m.flag.id for m in match_flags("coughing up blood and I fainted")] == ["coughing_blood", "fainting"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_screen_never_raises(text: str) -> None:
    result = screen(text)
    assert result.interrupt in (None, "emergency", "urgent", "crisis")


SOUP = "no not chest pain breath short of cannot , . ? but and or me falta aire sangre tos calf swollen years ago if i"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*SOUP.split(" "), "kill", "myself", "¿", "ni"])))
def test_screen_never_raises_on_keyword_soup(words: list[str]) -> None:
    assert isinstance(screen(" ".join(words)), Screen)


# --- the table and the locales --------------------------------------------------------------------------


def test_every_red_flag_is_documented() -> None:
    ids = [flag.id for flag in RED_FLAGS]
    assert len(ids) == len(set(ids))
    for flag in RED_FLAGS:
        assert flag.source.strip(), flag.id
        assert flag.description.strip(), flag.id
        assert flag.interrupt in ("emergency", "urgent", "crisis"), flag.id
        assert flag.finding is None or flag.finding in BOOLEAN_FINDINGS, flag.id


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_red_flag_has_a_reason_in_each_locale(locale: str) -> None:
    catalog = _load(ROOT / "locales" / locale / "screen.yaml")
    for flag in RED_FLAGS:
        reason = catalog.get(f"flag.{flag.id}")
        assert isinstance(reason, str) and reason.strip(), f"{locale}: flag.{flag.id}"
        assert len(reason) < 120
        if locale == "en":
            assert reason.isascii(), reason


def test_locales_have_the_same_keys() -> None:
    en = _load(ROOT / "locales" / "en" / "screen.yaml")
    es = _load(ROOT / "locales" / "es" / "screen.yaml")
    assert en.keys() == es.keys()
