"""Settings from the environment (pydantic-settings); the only reader of the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import timing
from bot.triage.engine import Escalation, Policy
from bot.triage.findings import Level


class SettingsError(ValueError):
    """A setting is missing or inconsistent: one line that says which."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: str | None = None
    public_base_url: str | None = None  # e.g. https://kneebot.example.org (what Twilio signs, behind any proxy)
    port: int = Field(default=8000, ge=1, le=65535)
    default_country: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")
    default_locale: str = Field(default="en", pattern=r"^(en|es)$")
    # Keys the opaque participant ids (HMAC); set a long random value in production. Changing it orphans stored state.
    id_hash_secret: SecretStr = SecretStr("kneebot-development-only")
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

    # Check-ins (#4): when, and never at night in the person's own time zone (emergency and urgent ones excepted).
    checkin_schedule: str = "emergency=1h;urgent=6h;soon=60h;self_care=48h,7d"
    quiet_hours: str = "21:00-08:00"  # empty: off
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
    audit_max_events: int = Field(default=1_000_000, ge=1000)

    @field_validator("checkin_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        timing.parse_checkin_schedule(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        timing.parse_quiet_hours(value)
        return value

    @field_validator("checkin_lease", "escalation_ack_deadline")
    @classmethod
    def _duration(cls, value: str) -> str:
        timing.parse_duration(value)
        return value

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        timing.zone_for(None, None, value)
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
        return timing.parse_checkin_schedule(self.checkin_schedule)

    @cached_property
    def quiet(self) -> timing.QuietHours | None:
        return timing.parse_quiet_hours(self.quiet_hours)

    @cached_property
    def zone(self) -> ZoneInfo:
        return timing.zone_for(None, None, self.default_time_zone)

    @property
    def lease(self) -> timedelta:
        return timing.parse_duration(self.checkin_lease)

    @property
    def ack_deadline(self) -> timedelta:
        return timing.parse_duration(self.escalation_ack_deadline)

    @property
    def oncall(self) -> tuple[str, ...]:
        return tuple(_split(self.oncall_sms_numbers))

    @property
    def escalation(self) -> Escalation:
        if self.staff_telegram_chat_id is None and not self.oncall:
            return "off"
        return "contact" if self.escalation_share_contact else "anonymous"

    def policy(self) -> Policy:
        return Policy(default_country=self.default_country.upper(), checkins=self.checkins, escalation=self.escalation)

    @property
    def conversation_ttl(self) -> timedelta:
        return timedelta(days=self.conversation_ttl_days)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def sms_enabled(self) -> bool:
        return self.twilio_account_sid is not None or self.twilio_auth_token is not None

    def check_for_server(self) -> None:
        """Refuse to serve with a channel half-configured."""
        if self.telegram_enabled and self.telegram_webhook_secret is None:
            raise SettingsError("TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not")
        if self.sms_enabled:
            for name in ("twilio_account_sid", "twilio_auth_token", "twilio_from_number", "public_base_url"):
                if getattr(self, name) is None:
                    raise SettingsError(f"SMS is enabled but {name.upper()} is not set")
        if not (self.telegram_enabled or self.sms_enabled):
            raise SettingsError("no channel configured: set TELEGRAM_BOT_TOKEN and/or TWILIO_ACCOUNT_SID")
        if self.staff_telegram_chat_id is not None and not self.telegram_enabled:
            raise SettingsError("STAFF_TELEGRAM_CHAT_ID is set but TELEGRAM_BOT_TOKEN is not")
        if self.oncall and not self.sms_enabled:
            raise SettingsError("ONCALL_SMS_NUMBERS is set but SMS (TWILIO_*) is not configured")

    def check_for_worker(self) -> None:
        """The worker sends on the server's channels and needs the shared Redis."""
        if not self.redis_url:
            raise SettingsError("the worker needs REDIS_URL (check-ins and pages are kept in Redis)")
        self.check_for_server()


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
