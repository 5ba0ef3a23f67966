"""Settings: a half-configured channel stops start-up with one clear line."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.app.settings import Settings, SettingsError


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


def test_telegram_needs_its_webhook_secret() -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        settings(telegram_bot_token=SecretStr("t")).check_for_server()


def test_sms_needs_token_number_and_public_url() -> None:
    with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN"):
        settings(twilio_account_sid="AC1").check_for_server()
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        settings(
            twilio_account_sid="AC1", twilio_auth_token=SecretStr("x"), twilio_from_number="+15005550006"
        ).check_for_server()


def test_no_channel_at_all_is_refused() -> None:
    with pytest.raises(SettingsError, match="no channel"):
        settings().check_for_server()


def test_a_complete_configuration_passes() -> None:
    settings(telegram_bot_token=SecretStr("t"), telegram_webhook_secret=SecretStr("s")).check_for_server()


def test_env_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_COUNTRY", "GB")
    monkeypatch.setenv("PORT", "9000")
    s = settings()
    assert s.default_country == "GB" and s.port == 9000


def test_log_level_is_one_of_the_known_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert settings().log_level == "debug"
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="log_level"):
        settings()
