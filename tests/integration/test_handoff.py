"""A handoff to a person, both ways, against the real server, a real redis-server and the fake Telegram and Twilio
APIs: consent, the person's messages in the console, staff replies on the person's own channel, red flags first,
the hand back on resolve, DELETE; every route's action on every card; on-call texts; and nothing identifying logged."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio

from bot.storage import keys
from bot.storage.cases import Case, CaseStore
from bot.storage.casework import CaseDesk, CaseMessage
from tests.integration.conftest import wait_for
from tests.integration.console_server import (
    ID_SECRET,
    LEAD,
    ONCALL,
    RED_FLAG_SMS,
    STAFF,
    STAFF_CHAT,
    ConsoleStack,
    form_token,
    serve_console,
)
from tests.integration.fakes.telegram_api import callback_update, message_update

PHONE, CHAT = "+12125550177", 700177
CLINIC_PHONE, CLINIC_HOURS = "212 555 0100", "Mon-Fri 8:00-18:00"
_UPDATES = itertools.count(5000)


@pytest.fixture(scope="module")
def served(redis_server: Any) -> Iterator[ConsoleStack]:
    redis_server.start()
    with serve_console(redis_server.url, clinic_phone=CLINIC_PHONE, clinic_hours=CLINIC_HOURS) as stack:
        yield stack


@pytest.fixture
def stack(served: ConsoleStack, redis_server: Any) -> Iterator[ConsoleStack]:
    redis_server.start()
    redis_server.flushall()
    served.add_account(STAFF, "staff")
    served.add_account(LEAD, "lead")
    yield served
    served.close_clients()


def texts_to(stack: ConsoleStack, number: str) -> list[str]:
    return [m.body for m in stack.twilio.messages if m.to == number]


def tg_texts(stack: ConsoleStack, chat: int) -> list[str]:
    return [str(m["text"]) for m in stack.telegram.sent(chat)]


def messages(stack: ConsoleStack, case_id: str) -> list[CaseMessage]:
    return stack.run(lambda client: CaseDesk(CaseStore(client)).messages(case_id))


def handed_off_by_sms(stack: ConsoleStack, phone: str = PHONE) -> Case:
    stack.sms("hi", phone)
    [asked] = stack.sms("HUMAN", phone)
    assert "Do you agree to share them with the clinic?" in asked and "1 Yes" in asked and "2 No" in asked
    [agreed] = stack.sms("1", phone)
    assert "I have asked the clinic team to talk to you here" in agreed
    assert f"You can call the clinic on {CLINIC_PHONE} ({CLINIC_HOURS})." in agreed
    [case] = stack.cases()
    return case


def reply(stack: ConsoleStack, client: Any, case_id: str, text: str) -> str:
    token = form_token(client.get(f"/cases/{case_id}").text)
    answer = client.post(f"/cases/{case_id}/reply", data={"csrf": token, "reply": text})
    assert answer.status_code == 303
    return str(answer.headers["location"]).rsplit("done=", 1)[-1]


def test_a_person_talks_to_staff_by_sms_both_ways_and_is_handed_back(stack: ConsoleStack) -> None:
    case = handed_off_by_sms(stack)
    assert (case.reason, case.handoff, case.contact) == ("human", True, PHONE)
    assert case.reach is not None and (case.reach.channel, case.reach.to) == ("sms", PHONE)

    assert stack.sms("It hurts most on the stairs", PHONE) == []  # to staff; kneebot says nothing
    staff = stack.signed_in(STAFF)
    page = staff.get(f"/cases/{case.id}").text
    assert "Conversation" in page and "It hurts most on the stairs" in page and 'name="reply"' in page
    assert "It hurts most on the stairs" in staff.get(f"/cases/{case.id}/conversation").text  # what htmx polls

    assert reply(stack, staff, case.id, "Hello, this is Ana from the clinic. Can you put weight on it?") == "sent"
    assert texts_to(stack, PHONE)[-1] == "Clinic team: Hello, this is Ana from the clinic. Can you put weight on it?"
    assert stack.sms("yes, a little", PHONE) == []
    assert [(m.sender, m.by, m.text) for m in messages(stack, case.id)] == [
        ("person", None, "It hurts most on the stairs"),
        ("staff", STAFF, "Hello, this is Ana from the clinic. Can you put weight on it?"),
        ("person", None, "yes, a little"),
    ]

    # A red flag still comes first: the emergency message at once, and staff see the words.
    [emergency] = stack.sms("now I can't breathe", PHONE)
    assert emergency.startswith("Call 911 now.")
    assert messages(stack, case.id)[-1].text == "now I can't breathe"
    [raised] = stack.cases()
    assert (raised.id, raised.level) == (case.id, "emergency")

    token = form_token(staff.get(f"/cases/{case.id}").text)
    done = staff.post(f"/cases/{case.id}/resolve", data={"csrf": token, "outcome": "reached"})
    assert done.headers["location"].endswith("done=resolved_told")
    assert "you are back with kneebot" in texts_to(stack, PHONE)[-1]
    resolved = stack.case(case.id)
    assert resolved is not None and (resolved.reach, resolved.contact, resolved.participant) == (None, None, "")
    assert reply(stack, staff, case.id, "one more thing") == "closed"
    closed = staff.get(f"/cases/{case.id}").text
    assert "The conversation is closed" in closed and "yes, a little" in closed and 'name="reply"' not in closed

    # kneebot again: an answer is read as an answer, and nothing more goes to the case.
    assert stack.sms("hi", PHONE) != []
    assert len(messages(stack, case.id)) == 4


def test_no_consent_keeps_the_case_anonymous_and_nothing_is_shared(stack: ConsoleStack) -> None:
    stack.sms("hi", PHONE)
    stack.sms("HUMAN", PHONE)
    declined = "\n".join(stack.sms("no", PHONE))
    assert "They cannot see your name or number" in declined and CLINIC_PHONE in declined
    [case] = stack.cases()
    assert (case.handoff, case.reach, case.contact) == (False, None, None)
    assert stack.sms("no", PHONE) != []  # the questions go on: an answer, not a message for staff
    assert messages(stack, case.id) == []
    page = stack.signed_in(STAFF).get(f"/cases/{case.id}").text
    assert "Conversation" not in page and PHONE not in page


def test_a_person_talks_to_staff_on_telegram(stack: ConsoleStack) -> None:
    stack.tg(message_update(next(_UPDATES), CHAT, "/start"))
    wait_for(lambda: len(tg_texts(stack, CHAT)) == 1)
    stack.tg(message_update(next(_UPDATES), CHAT, "/human"))
    wait_for(lambda: len(tg_texts(stack, CHAT)) == 2)
    question = stack.telegram.sent(CHAT)[-1]
    assert [b["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for b in row] == [
        "_handoff:yes",
        "_handoff:no",
    ]
    message_id = max(m for (c, m) in stack.telegram.messages if c == CHAT)
    stack.tg(callback_update(next(_UPDATES), CHAT, "_handoff:yes", message_id=message_id))
    wait_for(lambda: len(tg_texts(stack, CHAT)) == 3)
    assert "talk to you here" in tg_texts(stack, CHAT)[-1]
    [case] = stack.cases()
    assert case.reach is not None and (case.reach.channel, case.reach.to, case.contact) == ("telegram", str(CHAT), None)

    stack.tg(message_update(next(_UPDATES), CHAT, "Is it OK to take ibuprofen?"))
    wait_for(lambda: len(messages(stack, case.id)) == 1)
    staff = stack.signed_in(STAFF)
    assert reply(stack, staff, case.id, "Yes, with food, if you have no stomach problems.") == "sent"
    assert tg_texts(stack, CHAT)[-1] == "Clinic team: Yes, with food, if you have no stomach problems."
    assert len(tg_texts(stack, CHAT)) == 4  # nothing else was said to the person


def test_delete_removes_the_handoff_messages_and_contact_from_every_case(stack: ConsoleStack) -> None:
    case = handed_off_by_sms(stack)
    stack.sms("my number is on the form", PHONE)
    staff = stack.signed_in(STAFF)
    assert reply(stack, staff, case.id, "Thanks, we will call you.") == "sent"
    stack.sms("DELETE", PHONE)
    assert messages(stack, case.id) == []
    gone = stack.case(case.id)
    assert gone is not None and (gone.reach, gone.contact, gone.participant) == (None, None, "")
    assert gone.deleted_at is not None
    assert reply(stack, staff, case.id, "Hello?") == "closed"

    async def leftovers(client: redis.asyncio.Redis) -> list[bytes]:
        return [k async for k in client.scan_iter(match=f"{keys.PREFIX}:*")]

    found = b" ".join(stack.run(leftovers)).decode()
    participant = keys.participant_id(ID_SECRET.encode(), "sms", PHONE)
    assert participant not in found and PHONE not in found and "case-messages" not in found


def test_retention_is_the_lifetime_of_the_messages(stack: ConsoleStack) -> None:
    case = handed_off_by_sms(stack)
    stack.sms("it is swollen", PHONE)

    async def ttl(client: redis.asyncio.Redis) -> tuple[int, int]:
        participant = keys.participant_id(ID_SECRET.encode(), "sms", PHONE)
        return await client.pttl(keys.case_messages(case.id)), await client.pttl(keys.handoffs(participant))

    messages_ms, index_ms = stack.run(ttl)
    month = timedelta(days=30).total_seconds() * 1000
    assert month - 60_000 < messages_ms <= month and month - 60_000 < index_ms <= month


def cards(stack: ConsoleStack) -> list[dict[str, Any]]:
    """Each edit of a staff chat card, in order."""
    return [c.params for c in stack.telegram.calls_to("editMessageText") if c.params["chat_id"] == STAFF_CHAT]


def test_an_action_by_any_route_redraws_every_card_of_the_case(stack: ConsoleStack) -> None:
    stack.sms(RED_FLAG_SMS, "+12125550188")
    [case] = stack.cases()
    assert stack.page() == 1
    stack.clock.advance(timedelta(minutes=10))
    assert stack.page() == 1  # the re-page: a second card
    sent = stack.telegram.sent(STAFF_CHAT)
    assert len(sent) == 2 and "Page 1 of 2, waiting 0 min." in sent[0]["text"]
    assert "Page 2 of 2, waiting 10 min." in sent[1]["text"] and "Opened 10:00 EST" in sent[1]["text"]
    assert "Red flags: Short of breath; One calf or leg swollen." in sent[0]["text"]
    assert len(stack.case(case.id).cards) == 2  # type: ignore[union-attr]

    staff = stack.signed_in(STAFF)
    token = form_token(staff.get(f"/cases/{case.id}").text)
    staff.post(f"/cases/{case.id}/acknowledge", data={"csrf": token})
    edits = cards(stack)
    assert len(edits) == 2 and all(f"Acknowledged by {STAFF}." in e["text"] for e in edits)
    assert {e["message_id"] for e in edits} == set(stack.case(case.id).cards)  # type: ignore[union-attr]
    assert [b["callback_data"] for b in edits[0]["reply_markup"]["inline_keyboard"][0]] == [f"case:resolve:{case.id}"]

    assert stack.sms(f"RESOLVE {case.id}", ONCALL) == [f"Case {case.id} resolved."]  # the on-call number
    edits = cards(stack)[2:]
    assert len(edits) == 2 and all(f"Resolved by {STAFF}." in e["text"] for e in edits)
    assert all("reply_markup" not in e or not e["reply_markup"] for e in edits)
    history = staff.get(f"/cases/{case.id}").text
    assert "Resolved by on-call 1 (SMS)" in history and f"Acknowledged by {STAFF} (console)" in history


def test_an_oncall_number_gets_help_never_a_triage(stack: ConsoleStack) -> None:
    [help_reply] = stack.sms("thanks", ONCALL)
    assert help_reply.startswith("This is kneebot's on-call number. Reply ACK and the case")
    assert stack.sms("hi", ONCALL) == [help_reply]
    assert stack.cases() == []
    [emergency] = stack.sms(RED_FLAG_SMS, ONCALL)  # words of an emergency still get its message: no case
    assert emergency.startswith("Call 911 now.") and stack.cases() == []

    async def conversation(client: redis.asyncio.Redis) -> int:
        participant = keys.participant_id(ID_SECRET.encode(), "sms", ONCALL)
        return int(await client.exists(keys.conversation(participant)))

    assert stack.run(conversation) == 0


def test_no_identifier_or_text_of_a_handoff_reaches_a_log_line(
    stack: ConsoleStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case = handed_off_by_sms(stack)
    words = "my daughter Maria drives me to the clinic"
    stack.sms(words, PHONE)
    staff = stack.signed_in(STAFF)
    answer = "We will see you at three, Maria is welcome"
    assert reply(stack, staff, case.id, answer) == "sent"
    stack.twilio.unsubscribed.add(PHONE)  # a reply the provider refuses: the failure is logged, not the reply
    assert reply(stack, staff, case.id, "Are you still there, Maria?") == "not_sent"
    stack.twilio.unsubscribed.discard(PHONE)
    token = form_token(staff.get(f"/cases/{case.id}").text)
    staff.post(f"/cases/{case.id}/resolve", data={"csrf": token, "outcome": "reached"})
    # (The opaque participant id is a conversation id: logs carry those.)
    secret_things = [PHONE, PHONE[1:], case.id, "Maria", "daughter", STAFF, "three"]
    lines = [
        " ".join([record.name, record.getMessage(), record.exc_text or ""])
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    ]
    assert any(line.startswith("kneebot.casework") for line in lines)  # the failed reply was logged, by kind
    for line in lines:
        for thing in secret_things:
            assert thing not in line, (thing, line)
    for entry in stack.audit():
        assert not any(thing in str(entry) for thing in [PHONE, "Maria", STAFF])
    assert {"handoff_reply", "handoff_ended"} <= {e["kind"] for e in stack.audit()}
    assert re.search(r"Maria", " ".join(m.text for m in messages(stack, case.id)))  # kept where it belongs
