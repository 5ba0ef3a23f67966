"""The clinical suite: kneebot's own vignettes and the shared public calibration set."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from clinical import VIGNETTES, shared_examples

from bot.triage.findings import Findings, Level
from bot.triage.rules import assess

SUITE = VIGNETTES


def test_suite_covers_every_level_and_is_well_formed() -> None:
    assert len(SUITE) >= 48
    ids = [case["id"] for case in SUITE]
    assert len(ids) == len(set(ids))
    counts = Counter(case["expected_level"] for case in SUITE)
    assert all(counts[level.value] >= 8 for level in Level), counts
    for case in SUITE:
        assert case["description"] and case["source"] and case["expected_causes"], case["id"]
        Findings(**case["facts"])


@pytest.mark.parametrize("case", SUITE, ids=[case["id"] for case in SUITE])
def test_vignette_gets_exact_level_and_top_cause(case: dict[str, Any]) -> None:
    result = assess(Findings(**case["facts"]))
    assert result.level.value == case["expected_level"], case["description"]
    assert result.causes, case["description"]
    assert result.causes[0].code in case["expected_causes"], case["description"]


def test_suite_accuracy_and_no_under_triage() -> None:
    exact = under = 0
    for case in SUITE:
        level = assess(Findings(**case["facts"])).level
        expected = Level(case["expected_level"])
        exact += level is expected
        under += expected >= Level.urgent and level < expected
    accuracy = exact / len(SUITE)
    print(f"\nvignettes: {len(SUITE)}, exact level {accuracy:.1%}, under-triage of emergency/urgent: {under}")
    assert accuracy >= 0.95
    assert under == 0


def test_shared_calibration_examples_get_expected_level_and_cause() -> None:
    misses = []
    for case in shared_examples():
        result = assess(Findings(**case["facts"]))
        top = result.causes[0].code if result.causes else None
        if result.level.value != case["expected_level"] or top not in case["likely_causes"]:
            misses.append((case["id"], result.level.value, case["expected_level"], top))
    assert misses == []
