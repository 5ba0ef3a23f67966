"""Telegram update parsing: every update kind to its Inbound (or None), and no JSON input makes it raise."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.base import Inbound
from bot.channels.telegram import emphasise_number, parse_update
from bot.content.loader import Content
from bot.triage.events import ChoiceSelected, CommandReceived, Event, MessageReceived

CHAT = 42
GROUP = -1001234567890


def message(
    text: str | None = None, *, chat_id: int = CHAT, chat_type: str = "private", lang: str = "en", **more: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": 7,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": chat_type},
        "from": {"id": abs(chat_id), "is_bot": False, "first_name": "Ana", "language_code": lang},
        **more,
    }
    if text is not None:
        body["text"] = text
    return {"update_id": 1001, "message": body}


def callback(data: Any = "age:yes", **message_fields: Any) -> dict[str, Any]:
    return {
        "update_id": 1002,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana", "language_code": "es-419"},
            "chat_instance": "-8000",
            "data": data,
            "message": {
                "message_id": 77,
                "date": 1_700_000_000,
                "chat": {"id": CHAT, "type": "private"},
                **message_fields,
            },
        },
    }


def inbound(event: Event | None, **fields: Any) -> Inbound:
    return Inbound("telegram", fields.pop("user", str(CHAT)), fields.pop("message_id", "1001"), event, **fields)


def without(update: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(update)
    node = changed
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return changed


def replaced(update: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(update)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


CASES: list[tuple[str, dict[str, Any], Inbound | None]] = [
    ("free text", message("it hurts behind my knee"), inbound(MessageReceived("it hurts behind my knee"))),
    (
        "a Spanish client sets the locale hint",
        message("me duele", lang="es-MX"),
        inbound(MessageReceived("me duele"), locale="es"),
    ),
    ("an English client gives no hint", message("hi", lang="en-GB"), inbound(MessageReceived("hi"))),
    ("a number typed as the answer", message("2"), inbound(MessageReceived("2"))),
    ("/start", message("/start"), inbound(CommandReceived("start"))),
    ("/start addressed to the bot", message("/start@kneebot_bot"), inbound(CommandReceived("start"))),
    ("/start from a deep link", message("/start clinic_leaflet-2"), inbound(CommandReceived("start"))),
    ("/help", message("/help"), inbound(CommandReceived("help"))),
    ("/restart", message("/restart"), inbound(CommandReceived("restart"))),
    ("/back", message("/back"), inbound(CommandReceived("back"))),
    ("/stop", message("/stop"), inbound(CommandReceived("stop"))),
    ("/delete", message("/delete"), inbound(CommandReceived("delete"))),
    ("commands ignore case", message("/STOP"), inbound(CommandReceived("stop"))),
    ("/language toggles", message("/language"), inbound(CommandReceived("language"))),
    ("/language es", message("/language es"), inbound(CommandReceived("language", "es"))),
    ("/language@bot EN", message("/language@kneebot_bot EN"), inbound(CommandReceived("language", "en"))),
    ("/language español", message("/language español"), inbound(CommandReceived("language", "es"))),
    (
        "/language with an unknown language is text",
        message("/language klingon"),
        inbound(MessageReceived("/language klingon")),
    ),
    ("/country asks which country", message("/country"), inbound(CommandReceived("country"))),
    # "/country GB" is read by the core, as "COUNTRY GB" is: after the red-flag screen.
    ("/country GB is text", message("/country GB"), inbound(MessageReceived("/country GB"))),
    # A command event skips the red-flag screen, so words after a command go in as text.
    (
        "a command followed by words is text",
        message("/stop I can't breathe"),
        inbound(MessageReceived("/stop I can't breathe")),
    ),
    (
        "/start followed by words is text",
        message("/start my calf is swollen"),
        inbound(MessageReceived("/start my calf is swollen")),
    ),
    ("an unknown command is text", message("/ayuda"), inbound(MessageReceived("/ayuda"))),
    ("a slash in the middle is text", message("pain 5/10"), inbound(MessageReceived("pain 5/10"))),
    (
        "a button press",
        callback(),
        inbound(
            ChoiceSelected("age", "yes"),
            message_id="1002",
            locale="es",
            callback_id="4382bfdwdsb323b2d9",
            button_message_id=77,
        ),
    ),
    (
        "a button on an old, inaccessible message",
        callback("age:no", date=0),
        inbound(
            ChoiceSelected("age", "no"),
            message_id="1002",
            locale="es",
            callback_id="4382bfdwdsb323b2d9",
            button_message_id=77,
        ),
    ),
    ("button data that is not node:choice", callback("yes"), None),
    ("button data without a node", callback(":yes"), None),
    ("button data without a choice", callback("age:"), None),
    ("button data of the wrong type", callback(12), None),
    (
        "a button press without its message (inline mode)",
        without(callback(), "callback_query", "message"),
        None,
    ),
    ("a button press without an id", without(callback(), "callback_query", "id"), None),
    (
        # A group is never a conversation, but a staff group's presses answer cases: who pressed is kept.
        "a button press in a group",
        replaced(callback(), "group", "callback_query", "message", "chat", "type"),
        inbound(
            ChoiceSelected("age", "yes"),
            message_id="1002",
            locale="es",
            callback_id="4382bfdwdsb323b2d9",
            button_message_id=77,
            group_chat=True,
            sender_name="Ana",
        ),
    ),
    (
        "a button press in a channel",
        replaced(callback(), "channel", "callback_query", "message", "chat", "type"),
        None,
    ),
    (
        "a photo",
        message(photo=[{"file_id": "x", "file_unique_id": "y", "width": 90, "height": 90}]),
        inbound(None, notice="notice.unsupported"),
    ),
    ("a sticker", message(sticker={"file_id": "x"}), inbound(None, notice="notice.unsupported")),
    (
        "a voice note",
        message(voice={"file_id": "x", "duration": 3}),
        inbound(None, notice="notice.unsupported"),
    ),
    ("a video", message(video={"file_id": "x"}), inbound(None, notice="notice.unsupported")),
    ("a document", message(document={"file_id": "x"}), inbound(None, notice="notice.unsupported")),
    (
        "a location",
        message(location={"latitude": 1.0, "longitude": 2.0}),
        inbound(None, notice="notice.unsupported"),
    ),
    (
        "a contact",
        message(contact={"phone_number": "+15550100", "first_name": "Bo"}),
        inbound(None, notice="notice.unsupported"),
    ),
    (
        "a Spanish photo keeps the locale for the notice",
        message(lang="es", photo=[]),
        inbound(None, notice="notice.unsupported", locale="es"),
    ),
    # The caption is the person's words: it must reach the red-flag screen.
    (
        "a captioned photo is read as its caption",
        message(photo=[], caption="calf swollen, can't breathe"),
        inbound(MessageReceived("calf swollen, can't breathe")),
    ),
    (
        "a blank caption is still unsupported",
        message(photo=[], caption="  "),
        inbound(None, notice="notice.unsupported"),
    ),
    (
        "a group message: its words go to the red-flag screen, never into a conversation",
        message("/start", chat_id=GROUP, chat_type="group"),
        inbound(MessageReceived("/start"), user=str(GROUP), notice="notice.group", locale=None, group_chat=True),
    ),
    (
        "a supergroup message",
        message("I can't breathe", chat_id=GROUP, chat_type="supergroup", lang="es"),
        inbound(
            MessageReceived("I can't breathe"), user=str(GROUP), notice="notice.group", locale="es", group_chat=True
        ),
    ),
    (
        "a photo in a group",
        message(chat_id=GROUP, chat_type="group", photo=[]),
        inbound(None, user=str(GROUP), notice="notice.group", group_chat=True),
    ),
    (
        "a captioned photo in a group",
        message(chat_id=GROUP, chat_type="group", photo=[], caption="chest pain"),
        inbound(MessageReceived("chest pain"), user=str(GROUP), notice="notice.group", group_chat=True),
    ),
    (
        "someone joining a group",
        message(chat_id=GROUP, chat_type="group", new_chat_members=[{"id": 5}]),
        None,
    ),
    ("a private service message", message(pinned_message={"message_id": 1}), None),
    ("a channel-type chat", message("news", chat_id=GROUP, chat_type="channel"), None),
    ("an unknown chat type", message("hi", chat_type="secret"), None),
    ("an edited message", {"update_id": 1, "edited_message": message("hi")["message"]}, None),
    ("a channel post", {"update_id": 1, "channel_post": message("hi", chat_type="channel")["message"]}, None),
    (
        "my_chat_member (blocked or unblocked)",
        {"update_id": 1, "my_chat_member": {"chat": {"id": CHAT, "type": "private"}}},
        None,
    ),
    ("an inline query", {"update_id": 1, "inline_query": {"id": "1", "query": "knee"}}, None),
    ("no update kind at all", {"update_id": 1}, None),
    ("no update_id", without(message("hi"), "update_id"), None),
    ("a string update_id", replaced(message("hi"), "1001", "update_id"), None),
    ("a boolean update_id", replaced(message("hi"), True, "update_id"), None),
    ("message is not an object", replaced(message("hi"), "hi", "message"), None),
    ("message without chat", without(message("hi"), "message", "chat"), None),
    ("chat is a list", replaced(message("hi"), [CHAT], "message", "chat"), None),
    ("chat id is a string", replaced(message("hi"), "42", "message", "chat", "id"), None),
    ("chat id is a boolean", replaced(message("hi"), True, "message", "chat", "id"), None),
    ("chat type missing", without(message("hi"), "message", "chat", "type"), None),
    ("text is a number", replaced(message("hi"), 5, "message", "text"), None),
    ("empty text", message(""), None),
    ("blank text", message(" \n "), None),
    (
        "no sender: no locale hint, still read",
        without(message("hi"), "message", "from"),
        inbound(MessageReceived("hi")),
    ),
    (
        "a sender that is not an object",
        replaced(message("hi"), "x", "message", "from"),
        inbound(MessageReceived("hi")),
    ),
    (
        "a language_code that is not a string",
        replaced(message("hi"), 7, "message", "from", "language_code"),
        inbound(MessageReceived("hi")),
    ),
]


@pytest.mark.parametrize(("update", "expected"), [pytest.param(u, e, id=d) for d, u, e in CASES])
def test_parse(update: dict[str, Any], expected: Inbound | None) -> None:
    assert parse_update(update) == expected


def test_parse_ignores_things_that_are_not_objects() -> None:
    for value in (None, [], "update", 3, [message("hi")]):
        assert parse_update(value) is None  # type: ignore[arg-type]


def test_every_button_fits_telegrams_64_byte_callback_data(content: Content) -> None:
    flow = content.intake
    for node_id, node in flow.nodes.items():
        for choice in node.choices:
            data = f"{node_id}:{choice.id}"
            assert len(data.encode()) <= 64, data
            assert parse_update(callback(data)) is not None


# --- fuzzing ----------------------------------------------------------------------------------------------

KEYS = st.sampled_from(
    ["update_id", "message", "callback_query", "chat", "id", "type", "text", "from", "language_code", "data",
     "message_id", "photo", "caption", "edited_message", "date"]
)  # fmt: skip
STRINGS = (
    st.sampled_from(["private", "group", "supergroup", "/start", "/language es", "age:yes", "es-MX", ""]) | st.text()
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | STRINGS
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(), inner, max_size=5),
    max_leaves=25,
)
REAL = [
    message("hi"),
    message("/language es"),
    message(photo=[], caption="x"),
    callback(),
    message("x", chat_id=GROUP, chat_type="group"),
]


@settings(max_examples=400)
@given(st.dictionaries(KEYS, JSON, max_size=6))
def test_parse_never_raises_on_arbitrary_json(update: dict[str, Any]) -> None:
    check(update)


@settings(max_examples=600)
@given(st.sampled_from(REAL), st.data())
def test_parse_never_raises_on_mutated_real_updates(update: dict[str, Any], data: st.DataObject) -> None:
    mutated = copy.deepcopy(update)
    for _ in range(data.draw(st.integers(1, 3))):
        node = mutated
        while True:
            key = data.draw(st.sampled_from(sorted(node)))
            child = node[key]
            if isinstance(child, dict) and child and data.draw(st.booleans()):
                node = child
                continue
            if data.draw(st.booleans()):
                del node[key]
            else:
                node[key] = data.draw(JSON)
            break
        if not mutated:
            break
    check(mutated)


def check(update: dict[str, Any]) -> None:
    result = parse_update(update)
    if result is not None:
        assert result.channel == "telegram" and isinstance(result.user, str) and isinstance(result.message_id, str)
        if result.group_chat:  # words for the red-flag screen, else the notice
            assert result.notice == "notice.group" and (
                result.event is None or isinstance(result.event, MessageReceived)
            )
        else:
            assert (result.event is None) == (result.notice is not None)


# --- the emergency number ---------------------------------------------------------------------------------


def test_emergency_number_is_bold_and_the_rest_escaped() -> None:
    html = emphasise_number("Call 911 now. <b>A & B</b>\n\nThis is because you have chest pain.", "911")
    assert html == "Call <b>911</b> now. &lt;b&gt;A &amp; B&lt;/b&gt;\n\nThis is because you have chest pain."


def test_only_the_number_itself_is_bold_not_a_longer_number_containing_it() -> None:
    assert emphasise_number("Line 8009112000 or call 911.", "911") == "Line 8009112000 or call <b>911</b>."


def test_a_number_missing_from_the_text_is_added_on_its_own_line() -> None:
    assert emphasise_number("Get help now.", "112") == "Get help now.\n\n<b>112</b>"
