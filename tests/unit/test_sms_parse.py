"""SmsChannel without the network: webhook parsing, carrier keywords, sender country, signatures and TwiML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped, unused-ignore]

from bot.channels.base import FormError as SmsFormError
from bot.channels.base import Inbound
from bot.channels.render import MAX_SMS_SEGMENTS, render_sms
from bot.channels.segments import is_gsm, segments, to_gsm
from bot.channels.sms import SmsChannel
from bot.channels.twilio import TwilioAccount, parse_form, sha1_signature, twiml_messages
from bot.content.catalog import Catalog, placeholders
from bot.content.loader import Content
from bot.triage.effects import ChoiceOption, SendReply, Text
from bot.triage.events import CommandReceived, MessageReceived

SID = "AC" + "1" * 32
TOKEN = "unit-test-token"
URL = "https://kneebot.example/sms/inbound"
SENDER = "+14155552671"


@pytest.fixture
def sms(content: Content) -> SmsChannel:
    return SmsChannel(TwilioAccount(SID, TOKEN), "+15005550006", content.catalog)


def read(channel: SmsChannel, fields: Mapping[str, str]) -> Inbound:
    """The channel's reading of a webhook with these fields, as Twilio posts them (urlencoded)."""
    return channel.parse(urlencode(fields).encode())


def form(body: str = "hi", sender: str = SENDER, **extra: str) -> dict[str, str]:
    return {"From": sender, "To": "+15005550006", "Body": body, "MessageSid": "SM" + "a" * 32, **extra}


CARRIER_WORDS = [
    ("STOP", "stop"),
    ("STOPALL", "stop"),
    ("UNSUBSCRIBE", "stop"),
    ("CANCEL", "stop"),
    ("END", "stop"),
    ("QUIT", "stop"),
    ("START", "start"),
    ("UNSTOP", "start"),
    ("HELP", "help"),
    ("INFO", "help"),
]


@pytest.mark.parametrize(("word", "command"), CARRIER_WORDS)
@pytest.mark.parametrize("spell", [str.upper, str.lower, str.capitalize, lambda w: f"  {w.lower()} \n", "\t{}".format])
def test_carrier_keyword_is_a_command_in_any_case_and_spacing(
    sms: SmsChannel, word: str, command: str, spell: Callable[[str], str]
) -> None:
    assert read(sms, form(spell(word))).event == CommandReceived(command)


@pytest.mark.parametrize("body", ["stop please", "STOP.", "helpful", "start over", "parar", "s t o p", "1", ""])
def test_anything_but_a_whole_carrier_keyword_goes_to_the_core_as_text(sms: SmsChannel, body: str) -> None:
    inbound = read(sms, form(body))
    assert inbound.event == MessageReceived(body)
    assert inbound.notice is None


def test_inbound_carries_channel_user_and_message_sid(sms: SmsChannel) -> None:
    inbound = read(sms, form("yes"))
    assert inbound == Inbound("sms", SENDER, "SM" + "a" * 32, MessageReceived("yes"), country="US")


@pytest.mark.parametrize("body", ["", "   ", "\n"])
def test_picture_without_text_gets_the_unsupported_notice(sms: SmsChannel, body: str) -> None:
    inbound = read(sms, form(body, NumMedia="1", MediaUrl0="https://api.twilio.com/media/ME1"))
    assert inbound.event is None
    assert inbound.notice == "notice.unsupported"


def test_picture_with_text_passes_the_text(sms: SmsChannel) -> None:
    inbound = read(sms, form("it hurts here", NumMedia="2"))
    assert inbound.event == MessageReceived("it hurts here")
    assert inbound.notice is None


@pytest.mark.parametrize("num_media", ["0", "", "abc"])
def test_empty_text_without_media_goes_to_the_core(sms: SmsChannel, num_media: str) -> None:
    assert read(sms, form("", NumMedia=num_media)).event == MessageReceived("")


@pytest.mark.parametrize(
    ("sender", "user", "country", "locale"),
    [
        pytest.param("+14155552671", "+14155552671", "US", None, id="us"),
        pytest.param("+15142345678", "+15142345678", "CA", None, id="canada-shares-+1"),
        pytest.param("+442079460000", "+442079460000", "GB", None, id="uk"),
        pytest.param("+447700900123", "+447700900123", "GB", None, id="uk-range-unknown-to-metadata"),
        pytest.param("+525512345678", "+525512345678", "MX", "es", id="mexico"),
        pytest.param("+34912345678", "+34912345678", "ES", "es", id="spain"),
        pytest.param("+17872345678", "+17872345678", "PR", "es", id="puerto-rico-shares-+1"),
        pytest.param("+18092345678", "+18092345678", "DO", "es", id="dominican-republic-shares-+1"),
        pytest.param("+541143210000", "+541143210000", "AR", "es", id="argentina"),
        pytest.param("4155552671", "+14155552671", "US", None, id="national-form-in-default-country"),
        pytest.param("+80012345678", "+80012345678", None, None, id="non-geographic"),
    ],
)
def test_country_and_locale_hint_come_from_the_sender_number(
    sms: SmsChannel, sender: str, user: str, country: str | None, locale: str | None
) -> None:
    inbound = read(sms, form(sender=sender))
    assert (inbound.user, inbound.country, inbound.locale) == (user, country, locale)


def test_default_country_reads_national_numbers(content: Content) -> None:
    mexico = SmsChannel(TwilioAccount(SID, TOKEN), "+15005550006", content.catalog, default_country="MX")
    inbound = read(mexico, form(sender="5512345678"))
    assert (inbound.user, inbound.country, inbound.locale) == ("+525512345678", "MX", "es")
    britain = SmsChannel(TwilioAccount(SID, TOKEN), "+15005550006", content.catalog, default_country="GB")
    assert read(britain, form(sender="020 7183 8750")).user == "+442071838750"


@pytest.mark.parametrize("sender", ["garbage", "+999", "12345", "+1 (415) 555", "<script>", "+44"])
def test_a_sender_that_is_not_a_phone_number_is_a_form_error(sms: SmsChannel, sender: str) -> None:
    with pytest.raises(SmsFormError, match="From"):
        read(sms, form(sender=sender))


@pytest.mark.parametrize(
    "sid",
    [
        "SM1",
        "SM" + "a" * 31,
        "SM" + "a" * 33,
        "SM" + "g" * 32,
        "AC" + "a" * 32,
        "sm" + "a" * 32,
        # A signed form with the next parameter (its name and value) renamed into MessageSid's value.
        "SM" + "a" * 32 + "MessagingServiceSidMG" + "b" * 32,
    ],
)
def test_a_message_sid_not_of_twilios_form_is_a_form_error(sms: SmsChannel, sid: str) -> None:
    with pytest.raises(SmsFormError, match="MessageSid"):
        read(sms, {**form(), "MessageSid": sid})


def test_an_mms_sid_is_a_message_sid(sms: SmsChannel) -> None:
    assert read(sms, {**form(), "MessageSid": "MM" + "0f" * 16}).message_id == "MM" + "0f" * 16


@pytest.mark.parametrize("alias", ["SmsMessageSid", "SmsSid"])
def test_the_older_names_of_the_id_must_match_it(sms: SmsChannel, alias: str) -> None:
    assert read(sms, {**form(), alias: "SM" + "a" * 32}).message_id == "SM" + "a" * 32
    with pytest.raises(SmsFormError, match="SmsMessageSid"):
        read(sms, {**form(), alias: "SM" + "b" * 32})


def test_a_renamed_parameter_keeps_the_signature_but_not_the_message(sms: SmsChannel) -> None:
    """Twilio signs names and values run together, so the next parameter can be renamed into MessageSid's value and
    the signature still holds; the id's form gives it away."""
    sid, service = "SM" + "a" * 32, "MG" + "b" * 32
    signed_form = {**form(), "MessageSid": sid, "MessagingServiceSid": service}
    forged = {k: v for k, v in signed_form.items() if k != "MessagingServiceSid"}
    forged["MessageSid"] = sid + "MessagingServiceSid" + service
    assert sms.account.valid_signature(URL, forged, signed(URL, signed_form))
    with pytest.raises(SmsFormError):
        read(sms, forged)


@pytest.mark.parametrize(
    "fields",
    [
        {"Body": "hi", "MessageSid": "SM" + "a" * 32},
        {"From": "", "Body": "hi", "MessageSid": "SM" + "a" * 32},
        {"From": "   ", "Body": "hi", "MessageSid": "SM" + "a" * 32},
        {"From": SENDER, "Body": "hi"},
        {"From": SENDER, "Body": "hi", "MessageSid": ""},
        {},
    ],
)
def test_webhook_without_from_or_message_sid_is_a_form_error(sms: SmsChannel, fields: dict[str, str]) -> None:
    with pytest.raises(SmsFormError):
        read(sms, fields)
    assert issubclass(SmsFormError, ValueError)


PARAMS = {"From": SENDER, "Body": "Yes & <no>", "MessageSid": "SM" + "a" * 32, "NumMedia": "0"}


def signed(url: str = URL, params: dict[str, str] = PARAMS) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, params))


def test_real_signature_is_valid(sms: SmsChannel) -> None:
    assert sms.account.valid_signature(URL, PARAMS, signed())


def test_signature_over_the_url_with_default_port_is_valid(sms: SmsChannel) -> None:
    # Twilio signs with or without :443 depending on the setup; RequestValidator accepts both.
    assert sms.account.valid_signature(URL, PARAMS, signed("https://kneebot.example:443/sms/inbound"))


@pytest.mark.parametrize(
    ("url", "params", "signature"),
    [
        pytest.param(URL, PARAMS, None, id="missing"),
        pytest.param(URL, PARAMS, "", id="empty"),
        pytest.param(URL, PARAMS, signed()[:-2] + "xx", id="wrong"),
        pytest.param(URL, PARAMS, RequestValidator("other-token").compute_signature(URL, PARAMS), id="other-token"),
        pytest.param("http://kneebot.example/sms/inbound", PARAMS, signed(), id="other-scheme"),
        pytest.param("https://evil.example/sms/inbound", PARAMS, signed(), id="other-host"),
        pytest.param(URL + "?x=1", PARAMS, signed(), id="other-query"),
        pytest.param(URL, {**PARAMS, "Body": "No"}, signed(), id="tampered-body"),
        pytest.param(URL, {**PARAMS, "Extra": "1"}, signed(), id="added-field"),
    ],
)
def test_signature_fails_unless_url_params_and_token_all_match(
    sms: SmsChannel, url: str, params: dict[str, str], signature: str | None
) -> None:
    assert not sms.account.valid_signature(url, params, signature)


def test_signature_covers_every_value_of_a_repeated_field(sms: SmsChannel) -> None:
    items = [("From", SENDER), ("MediaUrl", "https://a.example/1"), ("MediaUrl", "https://a.example/2")]
    s = "".join(f"{k}{v}" for k, v in sorted(items))
    signature = RequestValidator(TOKEN).compute_signature(URL + s, {})
    assert sms.account.valid_signature(URL, ImmutableMultiDict(items), signature)
    assert not sms.account.valid_signature(URL, ImmutableMultiDict(items[:2]), signature)


FIELD_TEXT = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from("&=+% "), max_size=12)


@given(st.text(min_size=1, max_size=40), st.dictionaries(FIELD_TEXT, FIELD_TEXT, max_size=6), st.text(max_size=8))
def test_own_signature_is_twilios(url: str, params: dict[str, str], token: str) -> None:
    assert sha1_signature(token.encode(), url, params) == RequestValidator(token).compute_signature(url, params)


@given(st.dictionaries(FIELD_TEXT, FIELD_TEXT, max_size=6))
def test_a_signed_form_parsed_by_the_server_is_valid(params: dict[str, str]) -> None:
    sms = SmsChannel(TwilioAccount(SID, TOKEN), "+15005550006", Catalog({"en": {}}))
    form = parse_form(urlencode(params).encode())
    assert form == params
    assert sms.account.valid_signature(URL, form, signed(URL, params))


@given(
    st.binary(max_size=60)
    | st.lists(st.sampled_from([b"a", b"=", b"&", b"+", b"%", b"%2", b"%41", b"%zz", b"%C3%A9", b"\xff", b" "])).map(
        b"".join
    )
)
def test_form_parsing_is_parse_qsl(body: bytes) -> None:
    assert parse_form(body) == dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def messages(xml: str) -> list[str]:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [child.text or "" for child in root]


def test_twiml_escapes_markup_and_parses_back() -> None:
    catalog = Catalog({"en": {"tricky": "Tom & Jerry <b>bold</b> > 3 \"q\" 'a' ]]>", "sms.reply_with": "Reply:"}})
    sms = SmsChannel(TwilioAccount(SID, TOKEN), "+15005550006", catalog)
    xml = sms.respond([SendReply((Text("tricky"),))], "en").body.decode()
    assert "<b>" not in xml
    assert messages(xml) == ["Tom & Jerry <b>bold</b> > 3 \"q\" 'a' ]]>"]


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("&<>\"'\n")), max_size=4))
def test_twiml_is_what_twilios_messaging_response_writes(bodies: list[str]) -> None:
    response = MessagingResponse()
    for body in bodies:
        response.message(body)
    assert twiml_messages(bodies) == str(response.to_xml())


def test_twiml_of_no_replies_is_an_empty_response(sms: SmsChannel) -> None:
    assert messages(sms.respond([], "en").body.decode()) == []


@pytest.mark.parametrize("locale", ["en", "es"])
def test_twiml_text_renders_one_catalog_message(sms: SmsChannel, content: Content, locale: str) -> None:
    expected = to_gsm(content.catalog.raw("notice.unsupported", locale).format(number="112"))
    notice = SendReply((Text("notice.unsupported", (("number", "112"),)),))
    assert messages(sms.respond([notice], locale).body.decode()) == [expected]


@pytest.mark.parametrize("locale", ["en", "es"])
def test_long_replies_split_into_messages_within_the_segment_limit(
    sms: SmsChannel, content: Content, locale: str
) -> None:
    number = (("number", "911"),)
    parts = tuple(
        Text(key, number if placeholders(content.catalog.raw(key, locale)) else ())
        for key in sorted(content.catalog.keys(locale))
        if key.startswith(("outcome.", "command.", "checkin."))
        and placeholders(content.catalog.raw(key, locale)) <= {"number"}
    )
    choices = tuple(ChoiceOption(str(i), Text("outcome.tips")) for i in range(4))
    replies = [
        SendReply(parts, choices=choices, node="q", kind="question"),
        SendReply((Text("welcome", number),)),
    ]
    bodies = messages(sms.respond(replies, locale).body.decode())
    assert bodies == [b for r in replies for b in render_sms(r, content.catalog, locale)]
    assert len(bodies) > 2
    assert all(segments(b) <= MAX_SMS_SEGMENTS for b in bodies)
    assert all(is_gsm(b) for b in bodies)  # Spanish accents folded, so 153 characters a segment, not 67


FIELD = st.sampled_from(["From", "Body", "MessageSid", "NumMedia", "To", "MediaUrl0", "SmsSid"]) | st.text(max_size=12)
VALUE = (
    st.text(max_size=300)
    | st.from_regex(r"\+?[0-9 ()\-.]{0,25}", fullmatch=True)
    | st.from_regex(r"(SM|MM)[0-9a-f]{32}", fullmatch=True)
    | st.sampled_from(["STOP", " help ", "+17872345678", "0", "1", "-3", "99999999999999999999", "SM" + "a" * 32])
)


@given(st.dictionaries(FIELD, VALUE, max_size=8))
def test_parse_raises_nothing_but_form_error(fields: dict[str, str]) -> None:
    sms = SmsChannel(TwilioAccount(SID, TOKEN), "+15005550006", Catalog({"en": {}}))
    try:
        inbound = read(sms, fields)
    except SmsFormError:
        return
    assert fields["From"].strip() and len(fields["MessageSid"].strip()) == 34
    assert inbound.channel == "sms"
    assert inbound.user.startswith("+")
    assert (inbound.event is None) == (inbound.notice is not None)
    assert inbound.locale in {None, "es"}
