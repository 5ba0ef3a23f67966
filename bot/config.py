"""Settings from the environment (pydantic-settings); the only reader of the environment."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
