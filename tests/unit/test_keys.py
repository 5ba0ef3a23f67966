"""Redis key names: format, hash tag, stable opaque ids, no raw provider ids."""

from __future__ import annotations

import fnmatch
import re

import pytest
from redis.crc import key_slot

from bot.storage import keys

SECRET = b"unit-secret"
PHONE = "+14155550123"
TELEGRAM_ID = "987654321"
SID = "SM0123456789abcdef0123456789abcdef"
PID = keys.participant_id(SECRET, "sms", PHONE)


def participant_keys(pid: str) -> list[str]:
    return [keys.conversation(pid), keys.seen(pid, SID), keys.checkin(pid, 3), keys.optout(pid)]


def test_participant_id_is_channel_and_twenty_base32_characters() -> None:
    assert re.fullmatch(r"sms-[a-z2-7]{20}", PID)
    assert re.fullmatch(r"tg-[a-z2-7]{20}", keys.participant_id(SECRET, "tg", TELEGRAM_ID))


def test_participant_id_is_stable_across_releases() -> None:
    # Changing the derivation strands every stored conversation: this value must never change.
    assert keys.participant_id(b"secret", "tg", "123") == "tg-hffn24nlhw4ggfhvyiia"
    assert keys.participant_id(SECRET, "sms", PHONE) == PID


def test_participant_id_depends_on_secret_channel_and_raw_id() -> None:
    ids = {
        keys.participant_id(SECRET, "sms", PHONE),
        keys.participant_id(b"another-secret", "sms", PHONE),
        keys.participant_id(SECRET, "tg", PHONE),
        keys.participant_id(SECRET, "sms", "+14155550124"),
    }
    assert len(ids) == 4


def test_no_raw_id_appears_in_a_participant_id_or_key() -> None:
    tg = keys.participant_id(SECRET, "tg", TELEGRAM_ID)
    for key in [PID, tg, *participant_keys(PID), *participant_keys(tg)]:
        assert "4155550123" not in key
        assert TELEGRAM_ID not in key
        assert SID not in key and SID[2:12] not in key


@pytest.mark.parametrize(
    ("secret", "channel"), [(b"", "sms"), (SECRET, ""), (SECRET, "SMS"), (SECRET, "s:ms"), (SECRET, "t-g")]
)
def test_participant_id_rejects_empty_secret_and_non_slug_channel(secret: bytes, channel: str) -> None:
    with pytest.raises(ValueError):
        keys.participant_id(secret, channel, PHONE)


def test_keys_are_prefixed_versioned_and_tagged_with_the_participant() -> None:
    tag = "{" + PID + "}"
    assert keys.conversation(PID) == f"kneebot:v1:conversation:{tag}"
    assert keys.optout(PID) == f"kneebot:v1:optout:{tag}"
    assert keys.checkin(PID, 3) == f"kneebot:v1:checkin:{tag}:3"
    assert re.fullmatch(rf"kneebot:v1:seen:{re.escape(tag)}:[0-9a-f]{{32}}", keys.seen(PID, SID))
    assert keys.seen(PID, SID) == keys.seen(PID, SID) != keys.seen(PID, SID + "x")
    assert keys.ratelimit("telegram") == "kneebot:v1:ratelimit:{telegram}"
    assert keys.case("c-1") == "kneebot:v1:case:{c-1}"
    assert (keys.checkins(), keys.cases(), keys.audit()) == (
        "kneebot:v1:checkins",
        "kneebot:v1:cases",
        "kneebot:v1:audit",
    )


def test_a_participants_keys_share_one_cluster_slot() -> None:
    slots = {key_slot(key.encode()) for key in participant_keys(PID)}
    assert slots == {key_slot(PID.encode())}


def test_same_message_id_from_two_participants_gives_two_keys() -> None:
    other = keys.participant_id(SECRET, "sms", "+14155550124")
    assert keys.seen(PID, SID) != keys.seen(other, SID)


def test_participant_pattern_matches_own_keys_only() -> None:
    pattern = keys.participant_pattern("tg-abc")
    assert all(fnmatch.fnmatchcase(key, pattern) for key in participant_keys("tg-abc"))
    assert not any(fnmatch.fnmatchcase(key, pattern) for key in participant_keys("tg-abcd"))
    assert keys.participant_pattern("a*b?[c]") == r"kneebot:v1:*:{a\*b\?\[c\]}*"


@pytest.mark.parametrize("bad", ["", "a{b", "a}b"])
def test_participant_with_braces_or_empty_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        keys.conversation(bad)
