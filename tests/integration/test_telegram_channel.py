"""TelegramChannel against the fake Bot API on loopback: what reaches Telegram and which errors come back."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.channels.base import Inbound
from bot.channels.telegram import COMMANDS, TelegramBlocked, TelegramChannel, TelegramSendError, parse_update
from bot.content.catalog import Catalog
from bot.content.loader import Content
from bot.triage.effects import SendReply, Text
from bot.triage.engine import Policy, advance, new_session
from bot.triage.events import ChoiceSelected, CommandReceived, Event, MessageReceived
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import TOKEN, FakeTelegramAPI, callback_update, message_update

CHAT = 4242
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
# The lead adds these to locales/*/core.yaml; the real texts win once they exist.
MENU = {
    "en": {
        "menu.start": "Start a knee check",
        "menu.help": "How this works",
        "menu.restart": "Start the questions again",
        "menu.back": "Change your last answer",
        "menu.language": "Language / idioma",
        "menu.stop": "Stop all messages",
        "menu.delete": "Delete your data",
    },
    "es": {
        "menu.start": "Empezar una consulta de rodilla",
        "menu.help": "Cómo funciona",
        "menu.restart": "Empezar las preguntas de nuevo",
        "menu.back": "Cambiar su última respuesta",
        "menu.language": "Idioma / language",
        "menu.stop": "No recibir más mensajes",
        "menu.delete": "Borrar sus datos",
    },
}
TEST_KEYS = {
    "test.markup": "Call {number} now. Tags <b> & ampersands are text.",
    "test.one": "One.",
    "test.two": "Two.",
}

Scenario = Callable[[TelegramChannel], Awaitable[None]]


@pytest.fixture
def catalog(content: Content) -> Catalog:
    base = content.catalog
    return Catalog({loc: {**MENU[loc], **TEST_KEYS, **base.labels(loc)} for loc in base.locales}, base.default_locale)


@pytest.fixture
def fake() -> FakeTelegramAPI:
    return FakeTelegramAPI()


@pytest.fixture
def served(fake: FakeTelegramAPI) -> Iterator[ServedApp]:
    with ServedApp(fake.app) as served:
        yield served


@pytest.fixture
def run(served: ServedApp, catalog: Catalog) -> Callable[[Scenario], None]:
    def run(scenario: Scenario) -> None:
        async def main() -> None:
            channel = TelegramChannel(TOKEN, catalog, base_url=f"{served.url}/bot")
            await channel.start()
            try:
                await scenario(channel)
            finally:
                await channel.stop()

        asyncio.run(main())

    return run


async def deliver(
    channel: TelegramChannel,
    chat_id: str,
    replies: Sequence[SendReply],
    locale: str,
    *,
    skip: int = 0,
    on_sent: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Each reply as one message, in order, as delivery sends them (`skip`: those already sent; `on_sent(n)`: the
    first n are sent); the first failure stops it."""
    for index, unit in enumerate(channel.render(replies, locale)):
        if index < skip:
            continue
        await channel.send(chat_id, unit)
        if on_sent is not None:
            await on_sent(index + 1)


async def notice(channel: TelegramChannel, chat_id: str, key: str, locale: str, number: str) -> None:
    [unit] = channel.render([SendReply((Text(key, (("number", number),)),))], locale)
    await channel.send(chat_id, unit)


def turn(content: Content, event: Event, locale: str = "en") -> tuple[SendReply, ...]:
    flow = content.intake
    policy = Policy(countries=content.countries)
    return advance(flow, new_session(flow, NOW, locale), event, NOW, policy=policy, language=content.language).replies


def info(*keys: str) -> tuple[SendReply, ...]:
    return tuple(SendReply(parts=(Text(key),)) for key in keys)


def test_a_question_goes_out_with_one_button_per_row_carrying_node_and_choice(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI, content: Content, catalog: Catalog
) -> None:
    replies = turn(content, CommandReceived("start"), "es")
    question = replies[-1]
    assert question.node and question.choices

    run(lambda channel: deliver(channel, str(CHAT), replies, "es"))

    sent = fake.sent(CHAT)
    assert len(sent) == len(replies)
    rows = sent[-1]["reply_markup"]["inline_keyboard"]
    assert [len(row) for row in rows] == [1] * len(question.choices)
    assert [row[0]["callback_data"] for row in rows] == [f"{question.node}:{c.id}" for c in question.choices]
    assert [row[0]["text"] for row in rows] == [catalog.render(c.label, "es") for c in question.choices]
    assert "parse_mode" not in sent[-1]
    # A press on one of these buttons comes back as the choice it names.
    press = callback_update(9, CHAT, rows[0][0]["callback_data"], message_id=1)
    assert parse_update(press) == Inbound(
        "telegram",
        str(CHAT),
        "9",
        ChoiceSelected(question.node, question.choices[0].id),
        callback_id="cb9",
        button_message_id=1,
    )


def test_an_emergency_reply_shows_the_number_in_bold_with_no_tel_link(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI, content: Content
) -> None:
    replies = turn(content, MessageReceived("my chest hurts and I can't breathe"))
    emergency = next(r for r in replies if r.call)
    assert emergency.call == "911"

    run(lambda channel: deliver(channel, str(CHAT), replies, "en"))

    call = next(c for c in fake.calls_to("sendMessage") if "<b>911</b>" in c.params["text"])
    assert call.status == 200 and call.params["parse_mode"] == "HTML"
    assert call.params["text"].startswith("Call <b>911</b> now.")
    assert "tel:" not in call.params["text"]
    assert fake.messages[(CHAT, 1)]["text"].startswith("Call 911 now.")


def test_html_special_characters_are_escaped_so_telegram_accepts_the_message(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    reply = SendReply(parts=(Text("test.markup", (("number", "112"),)),), call="112")

    run(lambda channel: deliver(channel, str(CHAT), [reply], "en"))

    assert fake.calls_to("sendMessage")[0].status == 200
    assert fake.messages[(CHAT, 1)]["text"] == "Call 112 now. Tags <b> & ampersands are text."


def test_skip_resumes_after_the_replies_already_sent_and_on_sent_counts_them(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    progress: list[int] = []

    async def record(sent: int) -> None:
        progress.append(sent)

    run(
        lambda channel: deliver(
            channel, str(CHAT), info("test.one", "test.two", "test.one"), "en", skip=1, on_sent=record
        )
    )

    assert [m["text"] for m in fake.sent(CHAT)] == ["Two.", "One."]
    assert progress == [2, 3]


def test_a_send_failing_midway_stops_delivery_and_a_retry_with_skip_completes_it_in_order(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    fake.chat(CHAT).fail_sends.add(2)
    replies = info("test.one", "test.two", "test.one")
    progress: list[int] = []

    async def record(sent: int) -> None:
        progress.append(sent)

    async def scenario(channel: TelegramChannel) -> None:
        with pytest.raises(TelegramSendError):
            await deliver(channel, str(CHAT), replies, "en", on_sent=record)
        assert progress == [1]
        await deliver(channel, str(CHAT), replies, "en", skip=progress[-1], on_sent=record)

    run(scenario)

    assert [m["text"] for m in fake.sent(CHAT)] == ["One.", "Two.", "One."]
    assert progress == [1, 2, 3]


def test_acknowledge_answers_the_press_and_removes_the_keyboard_once(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI, content: Content, caplog: pytest.LogCaptureFixture
) -> None:
    replies = turn(content, CommandReceived("start"))

    async def scenario(channel: TelegramChannel) -> None:
        await deliver(channel, str(CHAT), replies, "en")
        message_id = max(mid for chat, mid in fake.messages if chat == CHAT)
        assert "reply_markup" in fake.messages[(CHAT, message_id)]
        await channel.acknowledge(str(CHAT), "cb-1", message_id)
        assert "reply_markup" not in fake.messages[(CHAT, message_id)]
        # A second press of the same (now bare) message, and a message Telegram no longer has: both harmless.
        await channel.acknowledge(str(CHAT), "cb-2", message_id)
        await channel.acknowledge(str(CHAT), None, 999)

    with caplog.at_level(logging.DEBUG, logger="kneebot"):
        run(scenario)

    assert fake.answered_callbacks == ["cb-1", "cb-2"]
    edits = fake.calls_to("editMessageReplyMarkup")
    assert [c.status for c in edits] == [200, 400, 400]
    assert all("reply_markup" not in c.params for c in edits)
    kneebot_logs = [r.getMessage() for r in caplog.records if r.name.startswith("kneebot")]
    assert any("not modified" in m for m in kneebot_logs) and any("not found" in m for m in kneebot_logs)
    assert not any(str(CHAT) in m for m in kneebot_logs)


def test_a_blocked_chat_raises_telegram_blocked_for_replies_and_notices(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    fake.chat(CHAT).blocked = True

    async def scenario(channel: TelegramChannel) -> None:
        with pytest.raises(TelegramBlocked):
            await deliver(channel, str(CHAT), info("test.one"), "en")
        with pytest.raises(TelegramBlocked):
            await notice(channel, str(CHAT), "notice.unsupported", "en", "911")

    run(scenario)
    assert fake.sent(CHAT) == []


def test_flood_control_raises_a_send_error_with_the_wait(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns about int retry_after otherwise
    fake.chat(CHAT).retry_after = 7

    async def scenario(channel: TelegramChannel) -> None:
        with pytest.raises(TelegramSendError) as raised:
            await deliver(channel, str(CHAT), info("test.one"), "en")
        assert raised.value.retry_after == 7.0

    run(scenario)


def test_a_slow_chat_does_not_hold_up_another(run: Callable[[Scenario], None], fake: FakeTelegramAPI) -> None:
    stall = threading.Event()
    fake.chat(CHAT).hold = stall  # Telegram does not answer this chat's send until the other chat's is done

    async def scenario(channel: TelegramChannel) -> None:
        slow = asyncio.ensure_future(deliver(channel, str(CHAT), info("test.one"), "en"))
        await deliver(channel, "5151", info("test.two"), "en")
        assert not slow.done() and fake.sent(CHAT) == []
        stall.set()
        await slow

    run(scenario)
    assert [m["text"] for m in fake.sent(CHAT)] == ["One."] and [m["text"] for m in fake.sent(5151)] == ["Two."]


def test_notice_sends_the_catalog_message_in_the_locale(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI, catalog: Catalog
) -> None:
    run(lambda channel: notice(channel, str(CHAT), "notice.unsupported", "es", "112"))

    [sent] = fake.sent(CHAT)
    assert sent["text"] == catalog.raw("notice.unsupported", "es").format(number="112")
    assert "reply_markup" not in sent


def test_set_webhook_sends_the_secret_and_only_the_updates_we_read(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    run(lambda channel: channel.set_webhook("https://kneebot.example/telegram/webhook", "s3cret-Token_1"))

    assert fake.webhook is not None
    assert fake.webhook["url"] == "https://kneebot.example/telegram/webhook"
    assert fake.webhook["secret_token"] == "s3cret-Token_1"
    assert fake.webhook["allowed_updates"] == ["message", "callback_query"]


def test_set_commands_sends_the_default_menu_and_the_spanish_one(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI, catalog: Catalog
) -> None:
    run(lambda channel: channel.set_commands())

    assert set(fake.commands) == {None, "es"}
    for language, locale in ((None, "en"), ("es", "es")):
        menu = fake.commands[language]
        assert [c["command"] for c in menu] == list(COMMANDS)
        assert [c["description"] for c in menu] == [catalog.raw(f"menu.{name}", locale) for name in COMMANDS]
        assert all(len(c["description"]) <= 40 for c in menu)


def test_start_with_a_rejected_token_does_not_repeat_the_token(served: ServedApp, catalog: Catalog) -> None:
    async def main() -> None:
        channel = TelegramChannel("999:wrong-token", catalog, base_url=f"{served.url}/bot")
        try:
            with pytest.raises(TelegramSendError) as raised:
                await channel.start()
            assert "wrong-token" not in str(raised.value) and raised.value.__cause__ is None
        finally:
            await channel.stop()

    asyncio.run(main())


def test_poll_drops_the_webhook_and_hands_over_queued_updates_in_order(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    fake.webhook = {"url": "https://old.example/hook"}
    fake.queue_update(message_update(11, CHAT, "/start"), callback_update(12, CHAT, "age:yes", message_id=3))
    received: list[Inbound | None] = []
    stop = asyncio.Event()

    async def handle(update: Mapping[str, Any]) -> None:
        received.append(parse_update(update))
        if len(received) == 2:
            stop.set()

    run(lambda channel: channel.poll(handle, stop=stop, timeout_s=5))

    assert fake.webhook is None
    assert [c.method for c in fake.calls][:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert received == [
        Inbound("telegram", str(CHAT), "11", CommandReceived("start")),
        Inbound("telegram", str(CHAT), "12", ChoiceSelected("age", "yes"), callback_id="cb12", button_message_id=3),
    ]


def test_poll_wakes_on_a_new_update_and_stops_promptly_while_waiting(
    run: Callable[[Scenario], None], fake: FakeTelegramAPI
) -> None:
    received: list[Inbound | None] = []

    async def scenario(channel: TelegramChannel) -> None:
        stop, handled = asyncio.Event(), asyncio.Event()

        async def handle(update: Mapping[str, Any]) -> None:
            received.append(parse_update(update))
            handled.set()

        polling = asyncio.ensure_future(channel.poll(handle, stop=stop, timeout_s=30))
        assert await asyncio.to_thread(fake.long_polling.wait, 10)
        fake.queue_update(message_update(21, CHAT, "hello"))
        await asyncio.wait_for(handled.wait(), 10)
        assert await asyncio.to_thread(fake.long_polling.wait, 10)  # the next long poll is waiting
        stop.set()
        await asyncio.wait_for(polling, 10)  # well before the 30 s long poll would have ended

    run(scenario)

    assert received == [Inbound("telegram", str(CHAT), "21", MessageReceived("hello"))]
    offsets = [c.params.get("offset") for c in fake.calls_to("getUpdates")]
    assert offsets[-1] == 22
