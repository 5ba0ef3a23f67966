"""Whole conversations typed in free text (tests/data/conversations.yaml), driven through the code path of
`kneebot chat --json` (bot.app.chat.ScriptedChat over the real shell and the in-memory store): each question is
answered with the next reply its node has in the conversation, as a person answers what they are asked. Prints the
exact level, under-triage, the questions and the misunderstood replies; tests/integration/test_cli.py runs some of
the same conversations through the command itself."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.chat import ScriptedChat
from bot.content.loader import Content
from bot.shell.conversation import ConversationService
from bot.storage.conversations import MemoryConversationStore
from bot.triage.engine import Policy
from bot.triage.findings import Level

SUITE = Path(__file__).resolve().parent.parent / "data" / "conversations.yaml"
NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
MOST_TURNS = 40


class Clock:
    def now(self) -> datetime:
        return NOW


def conversations() -> list[dict[str, Any]]:
    return list(yaml.safe_load(SUITE.read_text(encoding="utf-8")))


async def drive(content: Content, conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects of one conversation, each with the line that produced it (`_said`), stopped when no question
    is pending; an object whose question has no reply left is marked `_unanswered`."""
    country = conversation.get("country", "US")
    service = ConversationService(
        content, MemoryConversationStore(), Clock(), Policy(default_country=country, countries=content.countries)
    )
    chat = ScriptedChat(
        content,
        service,
        "conversation",
        channel=conversation.get("channel", "sms"),
        locale=conversation.get("locale", "en"),
        country=country,
    )
    replies = {node: list(said) for node, said in (conversation.get("answers") or {}).items()}
    seen = [await chat.welcome()] if conversation.get("welcome") else [await chat.send(conversation["first"])]
    for _ in range(MOST_TURNS):
        question = seen[-1]["question"]
        if question is None:
            break
        pending = replies.get(question["node"])
        if not pending:
            seen[-1]["_unanswered"] = question["node"]
            break
        line = pending.pop(0)
        seen.append({**await chat.send(line), "_said": line})
    return seen


def in_a_row(objects: list[dict[str, Any]], counted: Any) -> int:
    """The longest run of consecutive objects `counted` picks out (a key per object, None for none)."""
    longest, run, last = 0, 0, None
    for obj in objects:
        key = counted(obj)
        run = run + 1 if key is not None and key == last else (1 if key is not None else 0)
        last = key
        longest = max(longest, run)
    return longest


def asked(obj: dict[str, Any]) -> str | None:
    return obj["question"]["node"] if obj["question"] else None


def misread(obj: dict[str, Any]) -> bool | None:
    return True if obj["misunderstood"] else None


@pytest.fixture(scope="module")
def results(content: Content) -> Iterator[list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    async def run_all() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return [(c, await drive(content, c)) for c in conversations()]

    yield asyncio.run(run_all())


def test_the_suite_is_large_and_varied() -> None:
    items = conversations()
    assert len(items) >= 80
    assert len({c["id"] for c in items}) == len(items)
    langs = [c["lang"] for c in items]
    assert langs.count("es") >= 15 and langs.count("mix") >= 8
    assert {c["expect"] for c in items} == {level.value for level in Level}
    assert sum(c.get("channel") == "telegram" for c in items) >= 15


def test_every_conversation_reaches_its_level(
    results: list[tuple[dict[str, Any], list[dict[str, Any]]]], capsys: pytest.CaptureFixture[str]
) -> None:
    exact, under, wrong = 0, [], []
    questions: list[int] = []
    misunderstood: list[int] = []
    for conversation, seen in results:
        level = seen[-1]["level"]
        expected = Level(conversation["expect"])
        got = Level(level) if level else None
        questions.append(sum(obj["question"] is not None for obj in seen))
        misunderstood.append(sum(obj["misunderstood"] for obj in seen))
        if "_unanswered" in seen[-1]:
            wrong.append(f"{conversation['id']}: asked {seen[-1]['_unanswered']} with no reply left")
        elif got == expected:
            exact += 1
        else:
            wrong.append(f"{conversation['id']}: {got} (expected {expected.value})")
        if got is None or got < expected:
            under.append(conversation["id"])
    n = len(results)
    with capsys.disabled():
        print(f"\nconversations: {exact}/{n} at the expected level ({100 * exact / n:.1f}%), ", end="")
        print(f"under-triaged: {len(under)}")
        print(f"questions per conversation: median {statistics.median(questions)}, most {max(questions)}")
        print(
            f"misunderstood replies per conversation: mean {statistics.mean(misunderstood):.2f}, "
            f"most {max(misunderstood)}, conversations with any {sum(m > 0 for m in misunderstood)}"
        )
        for by in ("en", "es", "mix"):
            mine = [(c, s) for c, s in results if c["lang"] == by]
            hits = sum(s[-1]["level"] == c["expect"] and "_unanswered" not in s[-1] for c, s in mine)
            print(f"  {by:4} {hits}/{len(mine)}")
    assert under == []
    assert wrong == []


def test_no_question_is_asked_more_than_three_times_in_a_row(
    results: list[tuple[dict[str, Any], list[dict[str, Any]]]],
) -> None:
    for conversation, seen in results:
        assert in_a_row(seen, asked) <= 3, conversation["id"]
        assert in_a_row(seen, misread) <= 2, conversation["id"]


def test_the_median_conversation_asks_at_most_ten_questions(
    results: list[tuple[dict[str, Any], list[dict[str, Any]]]],
) -> None:
    assert statistics.median(sum(o["question"] is not None for o in seen) for _, seen in results) <= 10


def test_every_object_keeps_the_contract(results: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    levels = {None, *(level.value for level in Level)}
    for _, seen in results:
        for obj in seen:
            assert {k for k in obj if not k.startswith("_")} == {
                "replies",
                "question",
                "level",
                "interrupt",
                "misunderstood",
            }
            assert all(isinstance(text, str) and text for text in obj["replies"])
            assert obj["level"] in levels
            assert obj["interrupt"] in (None, "emergency", "urgent", "crisis", "confirm")
            if obj["question"] is not None:
                assert set(obj["question"]) == {"node", "choices"}
                assert all(set(c) == {"id", "label"} for c in obj["question"]["choices"])
