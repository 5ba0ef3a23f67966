"""Flow definitions: questions, choices, branching and the findings each answer sets, with load-time checks. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.triage.effects import ChoiceOption, Text
from bot.triage.findings import BOOLEAN_FINDINGS, FINDING_NAMES, Findings
from bot.triage.session import Answer

Value = bool | int | float | str
SHARED_CHOICE_LABELS = frozenset({"yes", "no", "unsure", "none"})
UNSURE = "unsure"  # the answer id of "not sure", also accepted by number questions


class Range(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gte: float | None = None
    lt: float | None = None


class Branch(BaseModel):
    """Go to `goto` when every condition in `if` holds (a finding answered "not sure" counts as true)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    when: dict[str, Value | Range] = Field(default_factory=dict, alias="if")
    goto: str


class Choice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str | None = None
    sets: dict[str, Value] = Field(default_factory=dict)
    unsure: tuple[str, ...] = ()
    next: str | None = None
    means_yes: bool = False  # a plain "yes" typed to this question picks this choice


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["choice", "number", "assessment"]
    choices: tuple[Choice, ...] = ()
    finding: str | None = None
    parse: Literal["integer", "days", "age", "score"] = "integer"  # days: a duration; age: in years; score: 0 to 10
    min: float = 0
    max: float = 1_000_000
    next: str | tuple[Branch, ...] | None = None
    # Several choices named at once ("1 and 2"): keep them all, or the first (choices listed most serious first).
    # Without it, the person is asked which one.
    several: Literal["all", "most_serious"] | None = None
    # What is recorded when the person cannot answer after the question was asked three times: the "not sure" choice
    # (the safer side), or, for a question without one, the choice named here (the check-in's "how": worse).
    fallback: str | None = None

    def fallback_choice(self) -> str:
        """The answer recorded for a question nobody could answer: `fallback`, else "not sure"."""
        return self.fallback or UNSURE

    # An answer that cannot change within days (age, how it started): a re-assessment after a check-in's "worse"
    # gives it again without asking (a duration in days grown by the time since).
    kept: bool = False


class FlowDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    schema_version: Literal[1] = 1
    start: str
    # Other first nodes, by what the conversation follows up (a check-in after a crisis or an emergency): the flow
    # starts at `start` for anything not named here.
    starts: dict[str, str] = Field(default_factory=dict)
    sources: tuple[str, ...] = ()
    nodes: dict[str, Node]

    @model_validator(mode="after")
    def _check(self) -> FlowDefinition:
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def start_for(self, context: str) -> str:
        return self.starts.get(context, self.start)

    def prompt_key(self, node_id: str) -> str:
        return f"{self.id}.{node_id}.prompt"

    def help_key(self, node_id: str) -> str:
        """What the question means, in plain words: the reply to "?" or "what do you mean"."""
        return f"{self.id}.{node_id}.help"

    def label_key(self, node_id: str, choice: Choice) -> str:
        if choice.label:
            return choice.label
        if choice.id in SHARED_CHOICE_LABELS:
            return f"choice.{choice.id}"
        return f"{self.id}.{node_id}.{choice.id}"

    def label_keys(self) -> set[str]:
        """The message keys of every choice's label."""
        return {self.label_key(node_id, c) for node_id, node in self.nodes.items() for c in node.choices}

    def message_keys(self) -> set[str]:
        keys: set[str] = set()
        for node_id, node in self.nodes.items():
            if node.kind != "assessment":
                keys.update((self.prompt_key(node_id), self.help_key(node_id)))
            keys.update(self.label_key(node_id, c) for c in node.choices)
        return keys

    def choice(self, node_id: str, choice_id: str) -> Choice | None:
        return self._choices.get(node_id, {}).get(choice_id)

    def options(self, node_id: str) -> tuple[ChoiceOption, ...]:
        """The question's choices as a reply offers them: each id with its label."""
        return self._options[node_id]

    # Built once per flow (which is frozen): choices are looked up for every answer, options sent with every question.
    @cached_property
    def _choices(self) -> dict[str, dict[str, Choice]]:
        return {node_id: {c.id: c for c in node.choices} for node_id, node in self.nodes.items()}

    @cached_property
    def _options(self) -> dict[str, tuple[ChoiceOption, ...]]:
        return {
            node_id: tuple(ChoiceOption(c.id, Text(self.label_key(node_id, c))) for c in node.choices)
            for node_id, node in self.nodes.items()
        }

    def edges(self, node_id: str) -> Iterator[str]:
        node = self.nodes[node_id]
        for c in node.choices:
            if c.next:
                yield c.next
        if isinstance(node.next, str):
            yield node.next
        elif node.next:
            yield from (b.goto for b in node.next)

    def findings(self, answers: Iterable[Answer]) -> tuple[Findings, frozenset[str]]:
        """Fold answers into findings; answers this flow no longer knows are skipped. Returns (findings, unsure)."""
        values: dict[str, Value] = {}
        unsure: set[str] = set()
        for answer in answers:
            node = self.nodes.get(answer.node)
            if node is None:
                continue
            if node.kind == "number" and node.finding:
                if answer.value != UNSURE:
                    values[node.finding] = _number(answer.value, node.parse)
                continue
            for value in (answer.value, *answer.also):
                choice = self.choice(answer.node, value)
                if choice is None:
                    continue
                values.update(choice.sets)
                unsure.difference_update(choice.sets)
                unsure.update(choice.unsure)
        return Findings.model_validate(values), frozenset(unsure)

    def next_node(self, node_id: str, answer: Answer, facts: Callable[[], tuple[Findings, frozenset[str]]]) -> str:
        """Where `answer` leads. `facts()` gives (findings, unsure), folded from the answers so far: asked for only
        when the node branches on them (most nodes name their next node outright)."""
        node = self.nodes[node_id]
        for value in (answer.value, *answer.also):  # several answers: the first that leads somewhere of its own
            choice = self.choice(node_id, value)
            if choice is not None and choice.next:
                return choice.next
        if isinstance(node.next, str):
            return node.next
        findings, unsure = facts()
        for branch in node.next or ():
            if all(_holds(findings, unsure, k, v) for k, v in branch.when.items()):
                return branch.goto
        raise ValueError(f"{self.id}.{node_id}: no branch matched")  # unreachable: validation demands a default


def _number(text: str, parse: str) -> int | float:
    if parse == "days":
        return float(text)
    return int(float(text))  # an age of 1.5 years is 1


def _holds(findings: Findings, unsure: frozenset[str], name: str, expected: Value | Range) -> bool:
    actual = getattr(findings, name)
    if isinstance(expected, Range):
        if actual is None:
            return False
        return (expected.gte is None or actual >= expected.gte) and (expected.lt is None or actual < expected.lt)
    if expected is True and name in unsure:
        return True
    if expected is False and actual is None:
        return name not in unsure
    return bool(actual == expected)


def _problems(flow: FlowDefinition) -> Iterator[str]:
    nodes = flow.nodes
    for start in (flow.start, *flow.starts.values()):
        if start not in nodes:
            yield f"start node {start!r} does not exist"
            return
    for node_id, node in nodes.items():
        where = f"{flow.id}.{node_id}"
        if node.kind == "assessment":
            if node.choices or node.next:
                yield f"{where}: an assessment node has no choices and no next"
            continue
        if node.kind == "choice" and len(node.choices) < 2:
            yield f"{where}: a choice node needs at least two choices"
        if node.kind == "number" and (node.finding not in FINDING_NAMES or node.choices):
            yield f"{where}: a number node needs a numeric finding and no choices"
        if node.several and node.kind != "choice":
            yield f"{where}: only a choice node can take several answers"
        ids = {c.id for c in node.choices}
        if node.fallback is not None and node.fallback not in ids:
            yield f"{where}: fallback {node.fallback!r} is not one of its choices"
        if node.kind == "choice" and node.fallback is None and UNSURE not in ids:
            yield f"{where}: a question without a {UNSURE!r} choice must name its `fallback` (the safer answer)"
        if node.kept and node.kind == "number" and node.parse not in ("days", "age"):
            yield f"{where}: only an age or a duration can be kept (a duration grows with the clock)"
        if len({c.id for c in node.choices}) != len(node.choices):
            yield f"{where}: duplicate choice ids"
        for c in node.choices:
            try:
                Findings.model_validate(c.sets)
            except ValidationError as e:
                yield f"{where}.{c.id}: sets invalid findings ({e.error_count()} errors)"
            for name in c.unsure:
                if name not in BOOLEAN_FINDINGS:
                    yield f"{where}.{c.id}: unsure names {name!r}, not a yes/no finding"
        has_default = isinstance(node.next, str) or any(not b.when for b in node.next or ())
        if not has_default and not all(c.next for c in node.choices):
            yield f"{where}: some answers have nowhere to go (add a default next)"
        if isinstance(node.next, tuple) and node.next and node.next[-1].when:
            yield f"{where}: the last branch must be the default (no `if`)"
        for b in node.next if isinstance(node.next, tuple) else ():
            for name in b.when:
                if name not in FINDING_NAMES:
                    yield f"{where}: branch tests unknown finding {name!r}"
        for target in flow.edges(node_id):
            if target not in nodes:
                yield f"{where}: goes to {target!r}, which does not exist"
    if any(t not in nodes for n in nodes for t in flow.edges(n)):
        return
    reachable = _reachable(flow)
    for node_id in nodes:
        if node_id not in reachable:
            yield f"{flow.id}.{node_id}: not reachable from {flow.start!r}"
    for start in dict.fromkeys((flow.start, *flow.starts.values())):
        cycle = _cycle(flow, start)
        if cycle:
            yield f"{flow.id}: a loop can keep a conversation from ever ending: {' -> '.join(cycle)}"
            return


def _reachable(flow: FlowDefinition) -> set[str]:
    starts = {flow.start, *flow.starts.values()}
    seen, stack = set(starts), list(starts)
    while stack:
        for target in flow.edges(stack.pop()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _cycle(flow: FlowDefinition, start: str) -> list[str]:
    """A path that returns to itself, or []: with no cycles and every dead end an assessment, every path ends in one."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node_id: str) -> list[str]:
        state[node_id] = 1
        path.append(node_id)
        for target in flow.edges(node_id):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[node_id] = 2
        path.pop()
        return []

    return visit(start)


def to_mermaid(flow: FlowDefinition, label: dict[str, str] | None = None) -> str:
    """The flow as a Mermaid diagram, generated from the data so it cannot drift from it."""
    label = label or {}
    lines = ["flowchart TD"]
    for node_id, node in flow.nodes.items():
        text = label.get(flow.prompt_key(node_id), node_id).replace('"', "'")
        shape = f'(["{node_id}: assessment"])' if node.kind == "assessment" else f'["{node_id}: {text}"]'
        lines.append(f"    {node_id}{shape}")
    for node_id, node in flow.nodes.items():
        for c in node.choices:
            if c.next:
                lines.append(f"    {node_id} -->|{c.id}| {c.next}")
        if isinstance(node.next, str):
            lines.append(f"    {node_id} --> {node.next}")
        for b in node.next if isinstance(node.next, tuple) else ():
            cond = " and ".join(f"{k}={_show(v)}" for k, v in b.when.items()) or "otherwise"
            lines.append(f"    {node_id} -->|{cond}| {b.goto}")
    return "\n".join(lines) + "\n"


def _show(v: Value | Range) -> str:
    if isinstance(v, Range):
        return " ".join(
            p for p in (f">={v.gte:g}" if v.gte is not None else "", f"<{v.lt:g}" if v.lt is not None else "") if p
        )
    return str(v).lower()
