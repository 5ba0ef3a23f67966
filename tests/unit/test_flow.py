"""Flow validation at load: targets, reachability, endings, findings; and the question budget of the intake flow."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.content.loader import ROOT, Content
from bot.triage.flow import FlowDefinition, to_mermaid


def raw_intake() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "flows" / "intake.yaml").read_text())
    return data


def longest_question_path(flow: FlowDefinition) -> int:
    @cache
    def longest(node_id: str) -> int:
        if flow.nodes[node_id].kind == "assessment":
            return 0
        return 1 + max(longest(t) for t in flow.edges(node_id))

    return longest(flow.start)


def test_intake_flow_is_valid(content: Content) -> None:
    assert content.intake.start == "emergency_signs"


def test_no_conversation_asks_more_than_16_questions(content: Content) -> None:
    assert longest_question_path(content.intake) <= 16


def test_a_typical_self_care_conversation_asks_at_most_10_questions(content: Content) -> None:
    flow, node, asked = content.intake, content.intake.start, 0
    answers = {"duration": "14", "pain": "3", "age": "30", "course": "better", "start_how": "gradual"}
    from bot.triage.session import Answer

    given: list[Answer] = []
    while flow.nodes[node].kind != "assessment":
        asked += 1
        ids = [c.id for c in flow.nodes[node].choices]
        value = answers.get(node) or next(i for i in ("none", "no") if i in ids)
        given.append(Answer(node=node, value=value))
        node = flow.next_node(node, given[-1], lambda: flow.findings(given))
    assert asked <= 10


def test_red_flag_questions_come_first(content: Content) -> None:
    assert content.intake.start == "emergency_signs"
    nxt = content.intake.nodes["emergency_signs"].next
    assert nxt == "calf"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d["nodes"]["calf"].update(next="nowhere"), "does not exist"),
        (lambda d: d["nodes"].update(orphan={"kind": "assessment"}), "not reachable"),
        (lambda d: d["nodes"]["age"].update(next="emergency_signs"), "loop"),
        (lambda d: d["nodes"]["calf"]["choices"][0].update(sets={"no_such_finding": True}), "invalid findings"),
        (lambda d: d["nodes"]["calf"]["choices"][0].update(sets={"age": "old"}), "invalid findings"),
        (lambda d: d["nodes"]["calf"]["choices"][2].update(unsure=["age"]), "not a yes/no finding"),
        (lambda d: d["nodes"]["pain"].update(finding="nope"), "numeric finding"),
        (lambda d: d.update(start="nope"), "start node"),
        (lambda d: d["nodes"]["mechanical"].pop("next"), "nowhere to go"),
        (lambda d: d["nodes"]["assess"].update(next="age"), "assessment node"),
    ],
)
def test_broken_flows_are_refused_with_a_reason(mutate: Any, problem: str) -> None:
    data = raw_intake()
    mutate(data)
    with pytest.raises(ValidationError, match=problem):
        FlowDefinition.model_validate(data)


def test_every_node_and_edge_appears_in_the_diagram(content: Content) -> None:
    diagram = to_mermaid(content.intake)
    assert diagram.startswith("flowchart TD")
    for node_id in content.intake.nodes:
        assert f"    {node_id}" in diagram
    assert "duration_days=>=3" in diagram
