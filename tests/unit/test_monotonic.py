"""Property: more alarming answers, or "not sure" to one more question, never lower the level."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.triage.findings import BOOLEAN_FINDINGS, Findings, Level
from bot.triage.rules import assess

answers = st.sampled_from([None, False, True])
findings = st.builds(
    Findings,
    age=st.none() | st.integers(min_value=0, max_value=110),
    sex=st.sampled_from([None, "female", "male", "other"]),
    onset=st.sampled_from([None, "sudden", "gradual"]),
    duration_days=st.none() | st.floats(min_value=0, max_value=400, allow_nan=False),
    pain_score=st.none() | st.integers(min_value=0, max_value=10),
    **{name: answers for name in BOOLEAN_FINDINGS},
)
fields = st.sampled_from(BOOLEAN_FINDINGS)
unsure_sets = st.frozensets(fields, max_size=6)
PROPERTY = settings(max_examples=400, deadline=None, database=None)


@PROPERTY
@given(findings, fields, unsure_sets)
def test_a_yes_never_lowers_the_level(before: Findings, field: str, unsure: frozenset[str]) -> None:
    after = before.model_copy(update={field: True})
    assert assess(after, unsure).level >= assess(before, unsure).level


def test_the_new_findings_are_among_those_the_properties_vary() -> None:
    assert {"calf_pain_or_tenderness", "cannot_bend_90"} <= set(BOOLEAN_FINDINGS)


@PROPERTY
@given(findings, st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=10), unsure_sets)
def test_more_pain_never_lowers_the_level(base: Findings, low: int, high: int, unsure: frozenset[str]) -> None:
    low, high = min(low, high), max(low, high)
    less, more = base.model_copy(update={"pain_score": low}), base.model_copy(update={"pain_score": high})
    assert assess(more, unsure).level >= assess(less, unsure).level


@PROPERTY
@given(findings, fields, unsure_sets)
def test_one_more_not_sure_never_lowers_the_level(base: Findings, field: str, unsure: frozenset[str]) -> None:
    assert assess(base, unsure | {field}).level >= assess(base, unsure).level


@PROPERTY
@given(findings, unsure_sets)
def test_not_sure_alone_never_calls_an_ambulance(base: Findings, unsure: frozenset[str]) -> None:
    if assess(base, unsure).level is Level.emergency:
        assert assess(base).level is Level.emergency


@PROPERTY
@given(findings, unsure_sets)
def test_an_uncertain_alarm_sign_is_never_ignored(base: Findings, unsure: frozenset[str]) -> None:
    assumed = assess(base.model_copy(update=dict.fromkeys(unsure, True)))
    assert assess(base, unsure).level >= min(assumed.level, Level.urgent)


def _bases() -> list[Findings]:
    """Every pair of "yes" answers (and every single one), on an unknown and on an older, recent-injury background."""
    names = BOOLEAN_FINDINGS
    sets = [()] + [(a,) for a in names] + list(combinations(names, 2))
    contexts: list[dict[str, object]] = [
        {},
        {"age": 60, "onset": "sudden", "duration_days": 3},
        {"age": 12, "onset": "gradual", "duration_days": 10, "pain_score": 8},  # a child, in severe pain
    ]
    return [Findings(**context, **dict.fromkeys(chosen, True)) for context in contexts for chosen in sets]


def test_one_more_yes_never_lowers_the_level_for_any_pair_of_findings() -> None:
    lowered = []
    for before in _bases():
        level = assess(before).level
        for field in BOOLEAN_FINDINGS:
            if getattr(before, field) is not True and assess(before.model_copy(update={field: True})).level < level:
                lowered.append((before.model_dump(exclude_none=True), field))
    assert lowered == []
