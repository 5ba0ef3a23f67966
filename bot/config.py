"""Settings from the environment (pydantic-settings); the only reader of the environment."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: str | None = None
    default_country: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")
    default_locale: str = Field(default="en", pattern=r"^(en|es)$")
    # Keys the opaque participant ids (HMAC); set a long random value in production. Changing it orphans stored state.
    id_hash_secret: SecretStr = SecretStr("kneebot-development-only")
    conversation_ttl_days: int = Field(default=30, ge=1, le=365)

    @property
    def conversation_ttl(self) -> timedelta:
        return timedelta(days=self.conversation_ttl_days)
