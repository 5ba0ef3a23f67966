"""Settings from the environment (pydantic-settings); the only reader of the environment.

Settings arrive as short strings (environment variables, a `.env` file, command-line options), so they are parsed
here, strictly, with one-line errors that name the setting: a typo in a schedule should stop the bot at start-up, not
silently change when people are asked how they are. An empty value means unset, as `.env.example` is written; a
secret given as an empty string in code is an error, never a key anyone can match.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import phonenumbers
import redis.asyncio
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.channels.whatsapp import Template, parse_templates
from bot.shell.scheduling import QuietHours, zone_for
from bot.triage.engine import DEFAULT_CHECKINS, Escalation, Policy
from bot.triage.findings import Level

DEVELOPMENT_ID_HASH_SECRET = "kneebot-development-only"
MIN_ID_HASH_SECRET_CHARS = 32
MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_hex(32))'"
# Codes people type for a country that ISO 3166 spells otherwise.
COUNTRY_MISTAKES = {"UK": "GB", "EL": "GR", "EN": "GB"}
LOCALES = ("en", "es")  # as DEFAULT_LOCALE allows
_BOT_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
_DIALABLE = re.compile(r"\+?[0-9]+(?: [0-9]+)*")


class SettingsError(ValueError):
    """A setting is missing or inconsistent: one line that says which."""


def describe(error: ValidationError) -> str:
    """A settings ValidationError as one line naming the setting (never its value: it may be a secret)."""
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]).upper() or "settings"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{name}: {message}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    redis_url: str | None = None
    public_base_url: str | None = None  # e.g. https://kneebot.example.org (what Twilio signs, behind any proxy)
    port: int = Field(default=8000, ge=1, le=65535)
    # ISO 3166 alpha-2, as phonenumbers knows the regions: numbers without + are read in it, and its emergency number
    # is given when the sender's number does not name a country.
    default_country: str = "US"
    # A clinic's own emergency number, given everywhere in place of the country's (digits, spaces between groups).
    emergency_number: str | None = None
    default_locale: str = Field(default="en", pattern=r"^(en|es)$")
    # Keys the opaque participant ids (HMAC); set a long random value in production. Changing it orphans stored state.
    id_hash_secret: SecretStr = SecretStr(DEVELOPMENT_ID_HASH_SECRET)
    conversation_ttl_days: int = Field(default=30, ge=1, le=365)
    # INFO: start-up, failures, opt-outs, duplicates. DEBUG adds a line per conversation turn and effect (ids and
    # node names only, as every line): at a thousand messages a second that is most of the log's cost.
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    # How long a Telegram webhook waits for its replies to be sent before answering (then they finish in the
    # background); a failed send within it answers 500, so Telegram retries and the retry sends only the rest.
    telegram_delivery_budget_s: float = Field(default=5.0, gt=0, le=30)

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    # WhatsApp through the same Twilio account: enabled by its sender (E.164, or whatsapp:+...). Outside WhatsApp's
    # 24-hour window only pre-approved templates go out: a ContentSid per template (a reply kind) and locale.
    whatsapp_from_number: str | None = None
    whatsapp_templates: str = ""  # checkin.en=HX...:buttons,checkin.es=HX...
    whatsapp_rate_per_s: float = Field(default=10, gt=0)  # per sending number

    # Check-ins (#4): when, and never at night in the person's own time zone (emergency and urgent ones excepted).
    checkin_schedule: str = "emergency=1h;urgent=6h;soon=60h;self_care=48h,7d"
    quiet_hours: str = "21:00-08:00"  # off: none
    default_time_zone: str = "America/New_York"  # for people whose phone number does not tell (and Telegram users)
    checkin_lease: str = "60s"  # a claimed check-in comes due again after this if its worker died
    worker_poll_s: float = Field(default=1.0, gt=0, le=60)
    # Provider limits, shared by every process through Redis.
    telegram_rate_per_s: float = Field(default=30, gt=0)
    telegram_chat_rate_per_s: float = Field(default=1, gt=0)
    sms_rate_per_s: float = Field(default=1, gt=0)  # per sending number (a US long code: 1 message/s)

    # Escalation to the clinic's staff.
    staff_telegram_chat_id: int | None = None
    oncall_sms_numbers: str = ""  # comma-separated, E.164, in paging order
    escalation_ack_deadline: str = "10m"
    escalation_share_contact: bool = False  # include the person's phone number in the case (off: no name or number)
    # Each on-call number is paged this many times, one deadline apart, before the next is; after the last number's
    # pages, one final notice to the staff chat and every on-call number, and the pages stop (the case stays open).
    escalation_pages_per_contact: int = Field(default=2, ge=1, le=10)
    # How the person reaches the clinic (HUMAN and escalation replies): a number to dial and, in words, when it answers.
    clinic_phone: str | None = None
    clinic_hours: str | None = Field(default=None, max_length=60)
    clinic_hours_es: str | None = Field(default=None, max_length=60)  # the same in Spanish (unset: CLINIC_HOURS)
    # How long the messages of a handoff (HUMAN, with the person's consent) are kept with the case.
    handoff_retention: str = "30d"
    audit_max_events: int = Field(default=1_000_000, ge=1000)

    @field_validator("id_hash_secret", "telegram_bot_token", "telegram_webhook_secret", "twilio_auth_token")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty: a secret must be a long random value (unset it to turn its channel off)")
        return value

    @field_validator("whatsapp_templates")
    @classmethod
    def _templates(cls, value: str) -> str:
        parse_templates(value)
        return value

    @field_validator("redis_url", "public_base_url", "twilio_account_sid", "twilio_from_number", "whatsapp_from_number")
    @classmethod
    def _given(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty (unset it instead)")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if not _BOT_TOKEN.fullmatch(token):
            raise ValueError("is not a bot token: digits, a colon, then letters and digits, as @BotFather gives it")
        return SecretStr(token)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            redis.asyncio.ConnectionPool.from_url(value)  # parses only: nothing connects
        except ValueError:
            raise ValueError(
                "is not a Redis URL: expected redis://[:password@]host[:port][/db], rediss://... or unix://path"
            ) from None
        return value

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            hint = f"; did you mean {COUNTRY_MISTAKES[code]}?" if code in COUNTRY_MISTAKES else ""
            raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code phonenumbers knows{hint}")
        return code

    @field_validator("emergency_number", "clinic_phone")
    @classmethod
    def _dialable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = value.strip()
        digits = sum(ch.isdigit() for ch in number)
        if not _DIALABLE.fullmatch(number) or not 2 <= digits <= 15:
            raise ValueError(
                f"{value!r} is not a number to dial: 2 to 15 digits, spaces between groups, such as 911 or 112"
            )
        return number

    # The staff console (/staff/): CONSOLE_SECRET signs its cookies and is required once staff accounts exist
    # (`kneebot serve` checks); times are shown in CLINIC_TIME_ZONE (unset: DEFAULT_TIME_ZONE).
    console_secret: SecretStr | None = None
    clinic_time_zone: str | None = None

    @field_validator("console_secret")
    @classmethod
    def _console_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (len(value.get_secret_value()) < 32 or len(set(value.get_secret_value())) < 10):
            raise ValueError("too weak: use at least 32 random characters, e.g. from secrets.token_urlsafe(32)")
        return value

    @field_validator("clinic_time_zone")
    @classmethod
    def _clinic_zone(cls, value: str | None) -> str | None:
        return value if value is None else zone_for(None, None, value).key

    @cached_property
    def clinic_zone(self) -> ZoneInfo:
        return zone_for(None, None, self.clinic_time_zone or self.default_time_zone)

    @field_validator("checkin_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_checkin_schedule(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("clinic_hours", "clinic_hours_es")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(not ch.isprintable() for ch in value)):
            raise ValueError("is not a line of text such as 'Mon-Fri 8:00-18:00'")
        return value.strip() if value is not None else None

    @field_validator("checkin_lease", "escalation_ack_deadline", "handoff_retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_for(None, None, value)
        return value

    @field_validator("oncall_sms_numbers")
    @classmethod
    def _numbers(cls, value: str) -> str:
        for number in _split(value):
            if not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
                raise ValueError(f"{number!r} is not an E.164 number such as +15551234567")
        return value

    @cached_property
    def checkins(self) -> dict[Level, tuple[timedelta, ...]]:
        return parse_checkin_schedule(self.checkin_schedule)

    @cached_property
    def quiet(self) -> QuietHours | None:
        return parse_quiet_hours(self.quiet_hours)

    @cached_property
    def zone(self) -> ZoneInfo:
        return zone_for(None, None, self.default_time_zone)

    @property
    def lease(self) -> timedelta:
        return parse_duration(self.checkin_lease)

    @property
    def ack_deadline(self) -> timedelta:
        return parse_duration(self.escalation_ack_deadline)

    @property
    def retention(self) -> timedelta:
        return parse_duration(self.handoff_retention)

    @property
    def clinic(self) -> dict[str, str]:
        """CLINIC_PHONE as the person reads it in each language, with CLINIC_HOURS (CLINIC_HOURS_ES in Spanish) in
        brackets; empty without a CLINIC_PHONE."""
        if self.clinic_phone is None:
            return {}
        hours = {"en": self.clinic_hours, "es": self.clinic_hours_es or self.clinic_hours}
        return {lang: f"{self.clinic_phone} ({h})" if h else self.clinic_phone for lang, h in hours.items()}

    @property
    def oncall(self) -> tuple[str, ...]:
        return tuple(_split(self.oncall_sms_numbers))

    @property
    def escalation(self) -> Escalation:
        if self.staff_telegram_chat_id is None and not self.oncall:
            return "off"
        return "contact" if self.escalation_share_contact else "anonymous"

    def policy(self) -> Policy:
        return Policy(
            default_country=self.default_country,
            checkins=self.checkins,
            escalation=self.escalation,
            emergency_number=self.emergency_number,
            clinic=self.clinic,
        )

    @property
    def store_label(self) -> str:
        """Where conversations are kept, for the start-up line: the Redis URL without its password."""
        if not self.redis_url:
            return "memory"
        parts = urlsplit(self.redis_url)
        if parts.password is None:
            return self.redis_url
        user = parts.username or ""
        host = parts.hostname or ""
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def conversation_ttl(self) -> timedelta:
        return timedelta(days=self.conversation_ttl_days)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def sms_enabled(self) -> bool:
        return self.twilio_from_number is not None or (
            self.whatsapp_from_number is None
            and (self.twilio_account_sid is not None or self.twilio_auth_token is not None)
        )

    @property
    def whatsapp_enabled(self) -> bool:
        return self.whatsapp_from_number is not None

    @cached_property
    def templates(self) -> dict[tuple[str, str], Template]:
        return parse_templates(self.whatsapp_templates)

    def check_id_secret(self) -> None:
        """With real people's ids to key, the development secret (or a short one) would let anyone who reads a
        participant id in a log or a key name find the phone number behind it in seconds."""
        secret = self.id_hash_secret.get_secret_value()
        if secret == DEVELOPMENT_ID_HASH_SECRET:
            raise SettingsError(
                "ID_HASH_SECRET is the development value and a channel is configured: "
                f"set a long random one, e.g. the output of {MAKE_A_SECRET}"
            )
        if len(secret) < MIN_ID_HASH_SECRET_CHARS:
            raise SettingsError(
                f"ID_HASH_SECRET has {len(secret)} characters: use at least {MIN_ID_HASH_SECRET_CHARS} random ones, "
                f"e.g. the output of {MAKE_A_SECRET}"
            )

    def check_for_server(self) -> None:
        """Refuse to serve with a channel half-configured, or with the participant ids keyed by a known secret."""
        if self.telegram_enabled and self.telegram_webhook_secret is None:
            raise SettingsError("TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not")
        if self.sms_enabled:
            for name in ("twilio_account_sid", "twilio_auth_token", "twilio_from_number", "public_base_url"):
                if getattr(self, name) is None:
                    raise SettingsError(f"SMS is enabled but {name.upper()} is not set")
        if self.whatsapp_enabled:
            for name in ("twilio_account_sid", "twilio_auth_token", "public_base_url"):
                if getattr(self, name) is None:
                    raise SettingsError(f"WhatsApp is enabled but {name.upper()} is not set")
            missing = [locale for locale in LOCALES if ("checkin", locale) not in self.templates]
            if missing:
                raise SettingsError(
                    "WhatsApp is enabled but WHATSAPP_TEMPLATES has no check-in template for "
                    + ", ".join(missing)
                    + " (checkin.<locale>=HX...): a check-in outside WhatsApp's 24-hour window needs one"
                )
        if not (self.telegram_enabled or self.sms_enabled or self.whatsapp_enabled):
            raise SettingsError(
                "no channel configured: set TELEGRAM_BOT_TOKEN, TWILIO_FROM_NUMBER and/or WHATSAPP_FROM_NUMBER"
            )
        if self.staff_telegram_chat_id is not None and not self.telegram_enabled:
            raise SettingsError("STAFF_TELEGRAM_CHAT_ID is set but TELEGRAM_BOT_TOKEN is not")
        if self.oncall and not self.sms_enabled:
            raise SettingsError("ONCALL_SMS_NUMBERS is set but SMS (TWILIO_*) is not configured")
        self.check_id_secret()

    def check_for_polling(self) -> None:
        """`telegram-poll`: a token (no webhook secret: no webhook), and a real id secret."""
        if not self.telegram_enabled:
            raise SettingsError("TELEGRAM_BOT_TOKEN must be set")
        self.check_id_secret()

    def check_for_worker(self) -> None:
        """The worker sends on the server's channels and needs the shared Redis."""
        if not self.redis_url:
            raise SettingsError("the worker needs REDIS_URL (check-ins and pages are kept in Redis)")
        self.check_for_server()


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# ASCII digits only: str.isdigit and \d also accept other scripts' digits, which no one means in a setting.
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])", re.ASCII)
_MICROSECONDS_PER_UNIT = {"s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6, "d": 86400 * 10**6}
_QUIET_HOURS = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})", re.ASCII)


def parse_duration(text: str) -> timedelta:
    """A positive duration such as '90s', '15m', '6h', '2d' or '1.5h'.

    Only these four units, lower case, with no sign and no exponent: the schedule is a clinical setting and a
    value such as '6H' or '1e3m' is more likely a mistake than a wish. Decimal arithmetic keeps '1.5h' exact.
    Surrounding whitespace is ignored so that 'urgent = 6h' reads as meant.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: expected a positive number and a unit s, m, h or d, such as '90s' or '1.5h'"
        )
    number, unit = match.groups()
    try:
        microseconds = int((Decimal(number) * _MICROSECONDS_PER_UNIT[unit]).to_integral_value())
        duration = timedelta(microseconds=microseconds)
    except (InvalidOperation, OverflowError):
        raise ValueError(f"invalid duration {text!r}: too long") from None
    if duration <= timedelta(0):
        raise ValueError(f"invalid duration {text!r}: must be more than zero")
    return duration


def parse_checkin_schedule(text: str) -> dict[Level, tuple[timedelta, ...]]:
    """Check-in delays per level, e.g. 'emergency=1h;urgent=6h;soon=60h;self_care=48h,7d'.

    A deployment usually wants to change one level, so levels not named keep DEFAULT_CHECKINS; 'soon=' (named,
    empty) turns a level's check-ins off. Delays count from the assessment, so within a level they must strictly
    increase: a repeat or a step back is a typo, not a second check-in. Empty entries (a trailing ';') are ignored;
    anything else odd (an unknown level, a level named twice, a bad delay) is an error naming the entry.
    """
    schedule: dict[Level, tuple[timedelta, ...]] = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"invalid check-in entry {entry.strip()!r}: expected level=delay[,delay...]")
        if name not in Level.__members__:
            known = ", ".join(level.value for level in Level)
            raise ValueError(f"invalid check-in entry {entry.strip()!r}: unknown level {name!r} (known: {known})")
        level = Level(name)
        if level in schedule:
            raise ValueError(f"invalid check-in schedule {text!r}: level {name!r} is named more than once")
        try:
            delays = tuple(parse_duration(part) for part in value.split(",")) if value.strip() else ()
        except ValueError as error:
            raise ValueError(f"invalid check-in entry {entry.strip()!r}: {error}") from None
        for earlier, later in zip(delays, delays[1:], strict=False):
            if later <= earlier:
                raise ValueError(f"invalid check-in entry {entry.strip()!r}: delays must strictly increase")
        schedule[level] = delays
    return {level: schedule.get(level, tuple(DEFAULT_CHECKINS[level])) for level in Level}


def parse_quiet_hours(text: str) -> QuietHours | None:
    """'21:00-08:00' -> QuietHours; 'off' (or '', or whitespace, from code) -> None, which turns quiet hours off.

    Exactly 'HH:MM-HH:MM' on a 24-hour clock (00:00 to 23:59), so that '9-5' or '9pm-8am' fail loudly instead of
    being guessed at.
    """
    stripped = text.strip()
    if not stripped or stripped.lower() == "off":
        return None
    match = _QUIET_HOURS.fullmatch(stripped)
    if match is None:
        raise ValueError(f"invalid quiet hours {text!r}: expected HH:MM-HH:MM, such as '21:00-08:00'")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if start_h > 23 or end_h > 23 or start_m > 59 or end_m > 59:
        raise ValueError(f"invalid quiet hours {text!r}: times run from 00:00 to 23:59")
    try:
        return QuietHours(start=time(start_h, start_m), end=time(end_h, end_m))
    except ValueError as error:
        raise ValueError(f"invalid quiet hours {text!r}: {error}") from None
