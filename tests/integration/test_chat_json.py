"""`kneebot chat --json`, the scripted-conversation contract (shared/DESIGN.md), through the command itself: one message
a line in, one JSON object a line out, flushed at once so a tool can drive it; bad options are one line and exit 2;
and conversations of tests/data/conversations.yaml driven the way a tool drives them, by the question asked."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

KNEEBOT = [sys.executable, "-m", "bot"]
ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "data" / "conversations.yaml"
ANSWER_WITHIN_S = 60.0  # an upper bound for a reply on a loaded machine, never waited out when the line comes
KEYS = {"replies", "question", "level", "interrupt", "misunderstood"}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KNEEBOT, "chat", *args], input=stdin, capture_output=True, text=True, timeout=120)


def objects(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


class Live:
    """The command running, answered one line at a time: each line written waits for its object, which arrives only
    if the command flushes it (no end of input comes to push it out)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*KNEEBOT, "chat", "--json", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.lines.get(timeout=ANSWER_WITHIN_S)))
        except queue.Empty:
            self.process.kill()
            self.close()
            pytest.fail("no object for the line written: the command did not flush it")

    def send(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.next()

    def close(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None and self.process.stderr is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=ANSWER_WITHIN_S)
        self.process.stdout.close()
        self.process.stderr.close()
        return code


def test_one_object_per_line_and_the_welcome_first() -> None:
    out = objects(run("--json", stdin="none\nno\n"))
    assert len(out) == 3 and all(set(obj) == KEYS for obj in out)
    welcome, first, second = out
    assert "not a diagnosis" in welcome["replies"][0] and welcome["question"]["node"] == "emergency_signs"
    assert {"id": "none", "label": "None of these"} in welcome["question"]["choices"]
    assert first["question"]["node"] == "calf" and second["question"]["node"] == "age"
    assert [o["level"] for o in out] == [None, None, None] and not any(o["misunderstood"] for o in out)


def test_without_the_welcome_the_first_line_is_the_persons_first_message() -> None:
    (first,) = objects(run("--json", "--no-welcome", stdin="hola, me duele detrás de la rodilla\n"))
    assert first["question"]["node"] == "emergency_signs"
    assert "Hola, soy kneebot" in "\n".join(first["replies"])


def test_telegram_replies_name_the_buttons_and_sms_the_numbers() -> None:
    telegram = objects(run("--json", "--channel", "telegram", stdin="banana\n"))[1]
    sms = objects(run("--json", "--channel", "sms", stdin="banana\n"))[1]
    assert telegram["misunderstood"] and sms["misunderstood"]
    assert "tap" in telegram["replies"][0] and "Reply with a number" not in telegram["replies"][0]
    assert "number" in sms["replies"][0] and "Reply with a number:\n1 " in sms["replies"][0]


def test_an_interrupt_gives_its_level_and_no_question() -> None:
    out = objects(run("--json", "--no-welcome", "--country", "GB", stdin="my calf is swollen and I can't breathe\n"))
    (obj,) = out
    assert obj["interrupt"] == "emergency" and obj["level"] == "emergency" and obj["question"] is None
    assert obj["replies"][0].startswith("Call 999 now.")


def test_a_check_in_comes_due_on_a_checkin_line() -> None:
    lines = ["none", "no", "30", "none", "gradually", "none", "none", "2 days", "2", "/checkin", "better"]
    out = objects(run("--json", stdin="/checkin\n" + "\n".join(lines) + "\n"))
    assert len(out) == 2 + len(lines)
    assert out[1] == {"replies": [], "question": None, "level": None, "interrupt": None, "misunderstood": False}
    assert out[-3]["level"] == "self_care"
    assert out[-2]["question"]["node"] == "how" and "How is your knee now" in out[-2]["replies"][-1]
    assert "good to hear" in out[-1]["replies"][0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--json", "--channel", "fax"], "--channel"),
        (["--json", "--locale", "fr"], "--locale"),
        (["--json", "--country", "XX"], "--country"),
        (["--json", "--colour"], "--colour"),
        (["--no-welcome"], "--no-welcome needs --json"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    result = run(*args, stdin="hello\n")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert "Traceback" not in result.stderr


def test_each_object_comes_as_soon_as_its_line_is_read() -> None:
    live = Live("--no-welcome")
    first = live.send("my knee hurts")
    assert first["question"]["node"] == "emergency_signs"
    assert live.send("?")["question"]["node"] == "emergency_signs"
    assert live.send("none")["question"]["node"] == "calf"
    assert live.close() == 0


def _suite(*ids: str) -> list[dict[str, Any]]:
    chosen = [c for c in yaml.safe_load(SUITE.read_text(encoding="utf-8")) if c["id"] in ids]
    assert len(chosen) == len(ids)
    return chosen


# Conversations whose words do not depend on the day they are run (the command's clock is the system's).
THROUGH_THE_COMMAND = ("en-09", "en-17", "en-27", "en-44", "es-03", "es-05", "mix-02", "mix-03", "en-41", "fresh-05")


@pytest.mark.parametrize("conversation", _suite(*THROUGH_THE_COMMAND), ids=lambda c: c["id"])
def test_conversations_of_the_suite_through_the_command(conversation: dict[str, Any]) -> None:
    args = ["--channel", conversation.get("channel", "sms"), "--locale", conversation.get("locale", "en")]
    live = Live(*args, "--country", "US", *([] if conversation.get("welcome") else ["--no-welcome"]))
    replies = {node: list(said) for node, said in (conversation.get("answers") or {}).items()}
    seen = [live.next() if conversation.get("welcome") else live.send(conversation["first"])]
    while seen[-1]["question"] is not None:
        node = seen[-1]["question"]["node"]
        assert replies.get(node), f"{conversation['id']}: asked {node} with no reply left"
        seen.append(live.send(replies[node].pop(0)))
    assert live.close() == 0
    assert seen[-1]["level"] == conversation["expect"]
    nodes = [o["question"]["node"] if o["question"] else None for o in seen]
    assert not any(n is not None and nodes[i : i + 4] == [n] * 4 for i, n in enumerate(nodes))
