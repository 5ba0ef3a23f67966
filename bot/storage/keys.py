"""Every Redis key name of the project: `kneebot:v1:<kind>:{<participant>}[:<suffix>]`, no raw ids."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re

PREFIX = "kneebot:v1"
_CHANNEL = re.compile(r"[a-z][a-z0-9]*")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


@functools.lru_cache(maxsize=4096)  # a person sends a dozen messages in a conversation: hash once, not per message
def participant_id(secret: bytes, channel: str, raw_id: str) -> str:
    """An opaque, stable id such as `tg-3kq...`: the channel and a keyed hash of the provider's id."""
    if not secret:
        raise ValueError("participant_id needs a non-empty secret")
    if not _CHANNEL.fullmatch(channel):
        raise ValueError("channel must be a lowercase slug")
    digest = hmac.new(secret, f"{channel}\0{raw_id}".encode(), hashlib.sha256).digest()[:12]
    opaque = base64.b32encode(digest).decode().rstrip("=").lower()
    return f"{channel}-{opaque}"


def tag(participant: str) -> str:
    """The hash tag that keeps one participant's keys on one Redis Cluster slot."""
    if not participant or "{" in participant or "}" in participant:
        raise ValueError("participant must be a non-empty id without braces")
    return f"{{{participant}}}"


def participant_pattern(participant: str) -> str:
    """A SCAN pattern matching every key under the participant's hash tag."""
    escaped = _GLOB_SPECIAL.sub(r"\\\1", tag(participant))
    return f"{PREFIX}:*:{escaped}*"


def conversation(participant: str) -> str:
    return f"{PREFIX}:conversation:{tag(participant)}"


def wrote(participant: str) -> str:
    """When the person last wrote (ms, on the conversation's clock): some channels answer freely only for a while."""
    return f"{PREFIX}:wrote:{tag(participant)}"


def seen(participant: str, message_id: str) -> str:
    # Provider ids (Telegram update_id, Twilio MessageSid) are hashed so none appears in a key.
    digest = hashlib.sha256(f"{participant}\0{message_id}".encode()).hexdigest()[:32]
    return f"{PREFIX}:seen:{tag(participant)}:{digest}"


def processed(secret: bytes, message_key: str) -> str:
    """A provider message id (`sms:<MessageSid>`, `telegram:<update_id>`) processed lately, kept apart from anyone's
    data: a keyed hash under its own hash tag, which DELETE (it removes the participant's keys) leaves in place, so a
    message replayed after a deletion, or after its dedupe record expired, is still known and not run again."""
    if not secret:
        raise ValueError("processed needs a non-empty secret")
    digest = hmac.new(secret, f"message\0{message_key}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{PREFIX}:processed:{tag(digest)}"


def delivered(participant: str, message_id: str) -> str:
    """How many of the replies to an inbound message were sent (Telegram retries resume after them)."""
    return seen(participant, message_id).replace(":seen:", ":delivered:", 1)


def checkins() -> str:
    """The sorted set of pending check-in ids (`<participant>:<seq>`), scored by due time (ms since the epoch)."""
    return f"{PREFIX}:checkins"


def checkin(participant: str, seq: int) -> str:
    return f"{PREFIX}:checkin:{tag(participant)}:{seq}"


def checkin_index(participant: str) -> str:
    """The set of one participant's pending check-in numbers, so STOP and delete can cancel them all."""
    return f"{PREFIX}:checkin-index:{tag(participant)}"


def optout(participant: str) -> str:
    return f"{PREFIX}:optout:{tag(participant)}"


def ratelimit(name: str) -> str:
    return f"{PREFIX}:ratelimit:{tag(name)}"


def cases() -> str:
    """The sorted set of unresolved case ids, scored by when they were opened."""
    return f"{PREFIX}:cases"


def pages() -> str:
    """The sorted set of cases waiting for a (re-)page, scored by when it is due."""
    return f"{PREFIX}:pages"


def case(case_id: str) -> str:
    return f"{PREFIX}:case:{tag(case_id)}"


def open_case(participant: str) -> str:
    """The id of the participant's unresolved case, so repeated escalations update one case."""
    return f"{PREFIX}:open-case:{tag(participant)}"


def send_queue() -> str:
    """The stream of delivery jobs (Telegram replies) that workers send, when a worker is running."""
    return f"{PREFIX}:send-queue"


def senders() -> str:
    """The readers of the send queue (workers, web processes), each scored by when its heartbeat runs out (ms, on
    Redis's clock): while a worker is alive, webhooks queue their Telegram replies for the workers."""
    return f"{PREFIX}:senders"


def audit() -> str:
    return f"{PREFIX}:audit"


# --- the staff console (#18): accounts by a keyed hash of the email, sessions by a hash of their id ---------------


def account_id(secret: bytes, email: str) -> str:
    """A staff account's opaque id (`staff-...`): a keyed hash of the normalised email, so no address is a key."""
    return participant_id(secret, "staff", email.strip().lower())


def account(account: str) -> str:
    return f"{PREFIX}:account:{tag(account)}"


def accounts() -> str:
    """The set of staff account ids."""
    return f"{PREFIX}:accounts"


def account_sessions(account: str) -> str:
    """The set of an account's console session digests, so removing the account ends them all."""
    return f"{PREFIX}:account-sessions:{tag(account)}"


def console_session(digest: str) -> str:
    """A console session, by a hash of its id: the cookie's secret value is never a key name."""
    return f"{PREFIX}:console-session:{tag(digest)}"


def signin_failures(scope: str) -> str:
    """Failed sign-ins counted for one account id, or one client address's hash (`addr-...`), within a window."""
    return f"{PREFIX}:signin-failures:{tag(scope)}"


def case_log(case_id: str) -> str:
    """What staff did with a case, in order (acknowledged, notes, resolved), on the case's own slot."""
    return f"{PREFIX}:case-log:{tag(case_id)}"


def case_messages(case_id: str) -> str:
    """The messages exchanged with the person after they consented to a handoff (HUMAN), on the case's own slot."""
    return f"{PREFIX}:case-messages:{tag(case_id)}"


def handoffs(participant: str) -> str:
    """The set of case ids that hold a person's contact or handoff messages, so DELETE finds them all (a resolved
    case keeps its messages for the retention period, after its open-case pointer is gone)."""
    return f"{PREFIX}:handoffs:{tag(participant)}"


def resolved_cases() -> str:
    """The sorted set of resolved case ids, scored by when they were resolved (kept as long as the cases are)."""
    return f"{PREFIX}:resolved-cases"
