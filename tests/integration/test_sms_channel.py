"""SmsChannel.send against the fake Twilio REST API, served by uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import Iterator, Sequence

import pytest

from bot.channels.render import MAX_SMS_SEGMENTS, render_sms
from bot.channels.segments import segments
from bot.channels.sms import SmsChannel
from bot.channels.twilio import TwilioAccount
from bot.channels.twilio import TwilioSendError as SmsSendError
from bot.channels.twilio import Unsubscribed as SmsUnsubscribed
from bot.content.loader import Content
from bot.triage.effects import ChoiceOption, SendReply, Text
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi

FROM = "+15005550006"
TO = "+14155552671"

# Two replies; the second asks a question, so it carries a numbered list.
REPLIES = (
    SendReply((Text("checkin.offer.soon"),)),
    SendReply(
        (Text("welcome", (("number", "911"),)), Text("command.help", (("number", "911"),))),
        choices=(
            ChoiceOption("yes", Text("command.language")),
            ChoiceOption("no", Text("command.nothing_back")),
        ),
        node="q1",
        kind="question",
    ),
)


@pytest.fixture
def api() -> FakeTwilioApi:
    return FakeTwilioApi(unsubscribed={"+14155550199"})


@pytest.fixture
def base_url(api: FakeTwilioApi) -> Iterator[str]:
    with ServedApp(api.app) as served:
        yield served.url


def channel(content: Content, base_url: str, token: str = AUTH_TOKEN, timeout_s: float = 10.0) -> SmsChannel:
    account = TwilioAccount(ACCOUNT_SID, token, api_base_url=base_url, timeout_s=timeout_s)
    return SmsChannel(account, FROM, content.catalog)


async def send_all(sms: SmsChannel, to: str, replies: Sequence[SendReply], locale: str) -> None:
    """Each SMS the replies become, in order, as delivery sends them; the first failure stops it."""
    for body in sms.render(replies, locale):
        await sms.send(to, body)


def test_send_posts_every_sms_in_order_with_auth(
    content: Content, api: FakeTwilioApi, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sms = channel(content, base_url)

    async def main() -> None:
        try:
            await send_all(sms, TO, REPLIES, "es")
        finally:
            await sms.stop()

    asyncio.run(main())

    expected = [body for reply in REPLIES for body in render_sms(reply, content.catalog, "es")]
    assert len(expected) >= 2
    sent = api.messages
    assert [m.body for m in sent] == expected
    assert all(m.to == TO and m.from_ == FROM for m in sent)
    assert all(m.sid.startswith("SM") and len(m.sid) == 34 for m in sent)
    assert all(segments(m.body) <= MAX_SMS_SEGMENTS for m in sent)
    assert [m.received_at for m in sent] == sorted(m.received_at for m in sent)
    assert api.attempts == len(expected)
    assert caplog.records  # twilio logs each request; none of it may carry the number, the text or the token
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert not any(secret in caplog.text for secret in (TO, AUTH_TOKEN, basic, expected[0][:20]))


def test_unsubscribed_recipient_raises_and_sends_nothing_more(
    content: Content, api: FakeTwilioApi, base_url: str
) -> None:
    sms = channel(content, base_url)

    async def main() -> None:
        try:
            await send_all(sms, "+14155550199", REPLIES, "en")
        finally:
            await sms.stop()

    with pytest.raises(SmsUnsubscribed):
        asyncio.run(main())
    assert api.messages == []
    assert api.attempts == 1


def test_bad_credentials_raise_send_error_without_the_number(
    content: Content, api: FakeTwilioApi, base_url: str
) -> None:
    sms = channel(content, base_url, token="wrong-token")

    async def main() -> None:
        try:
            await send_all(sms, TO, REPLIES, "en")
        finally:
            await sms.stop()

    with pytest.raises(SmsSendError) as caught:
        asyncio.run(main())
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (401, 20003, False)
    assert TO not in str(caught.value)
    assert caught.value.__suppress_context__
    assert api.messages == []


def test_no_answer_in_time_is_a_retryable_send_error(content: Content, api: FakeTwilioApi, base_url: str) -> None:
    api.delay_s = 30.0
    sms = channel(content, base_url, timeout_s=0.2)

    async def main() -> None:
        try:
            await send_all(sms, TO, REPLIES[:1], "en")
        finally:
            await sms.stop()

    with pytest.raises(SmsSendError) as caught:
        asyncio.run(main())
    assert caught.value.retryable
    assert len(api.messages) == 1  # Twilio may have taken it anyway: a blind retry can send it twice


def test_unreachable_api_is_a_retryable_send_error(content: Content) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sms = channel(content, f"http://127.0.0.1:{port}")

    async def main() -> None:
        try:
            await send_all(sms, TO, REPLIES, "en")
        finally:
            await sms.stop()

    with pytest.raises(SmsSendError) as caught:
        asyncio.run(main())
    assert (caught.value.status, caught.value.retryable) == (None, True)


def test_channel_sends_again_in_a_new_event_loop_after_aclose(
    content: Content, api: FakeTwilioApi, base_url: str
) -> None:
    sms = channel(content, base_url)

    async def once() -> None:
        await send_all(sms, TO, REPLIES[:1], "en")
        await sms.stop()

    asyncio.run(once())
    asyncio.run(once())
    assert len(api.messages) == 2
