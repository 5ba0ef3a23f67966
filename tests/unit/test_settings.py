"""Settings refuse to be unsafe: a half-configured channel, an empty or known secret, a country phonenumbers does not
know or a malformed URL stops start-up with one line naming the setting; an empty value means unset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.app.settings import DEVELOPMENT_ID_HASH_SECRET, Settings, SettingsError, describe, parse_quiet_hours
from bot.content.loader import Content

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "0123456789abcdef" * 4
TOKEN = "123456:TEST-fake-token"
TELEGRAM = {"telegram_bot_token": SecretStr(TOKEN), "telegram_webhook_secret": SecretStr("s3cret")}
SMS = {
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": SecretStr("twilio-token"),
    "twilio_from_number": "+15005550006",
    "public_base_url": "https://kneebot.example.org",
}


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def one_line(error: ValidationError) -> str:
    line = describe(error)
    assert "\n" not in line
    return line


def test_telegram_needs_its_webhook_secret() -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        settings(telegram_bot_token=SecretStr(TOKEN), id_hash_secret=SecretStr(REAL_SECRET)).check_for_server()


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
    settings(**TELEGRAM, **SMS, id_hash_secret=SecretStr(REAL_SECRET)).check_for_server()


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


# --- empty means unset; an empty secret is never a key --------------------------------------------------------


def test_env_example_works_as_copied(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text((ROOT / ".env.example").read_text())
    s = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert s.staff_telegram_chat_id is None and s.oncall == ()
    assert not s.telegram_enabled and not s.sms_enabled  # empty tokens are no tokens (no InvalidToken)
    assert s.telegram_webhook_secret is None and s.twilio_auth_token is None
    with pytest.raises(SettingsError, match="no channel configured"):
        s.check_for_server()


def test_an_empty_webhook_secret_in_the_environment_is_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "")
    monkeypatch.setenv("ID_HASH_SECRET", REAL_SECRET)
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET is not"):
        settings().check_for_server()


def test_an_empty_twilio_token_in_the_environment_is_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SMS.items():
        monkeypatch.setenv(name.upper(), value.get_secret_value() if isinstance(value, SecretStr) else value)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    monkeypatch.setenv("ID_HASH_SECRET", REAL_SECRET)
    with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN is not set"):
        settings().check_for_server()


@pytest.mark.parametrize(
    "name", ["id_hash_secret", "telegram_bot_token", "telegram_webhook_secret", "twilio_auth_token"]
)
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_secret_given_in_code_is_an_error(name: str, empty: str) -> None:
    with pytest.raises(ValidationError) as error:
        settings(**{name: SecretStr(empty)})
    line = one_line(error.value)
    assert line.startswith(name.upper() + ":") and "empty" in line


def test_an_empty_id_secret_in_the_environment_is_the_development_one_and_refused_with_a_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ID_HASH_SECRET", "")
    s = settings(**TELEGRAM)
    assert s.id_hash_secret.get_secret_value() == DEVELOPMENT_ID_HASH_SECRET
    with pytest.raises(SettingsError, match="ID_HASH_SECRET is the development value") as error:
        s.check_for_server()
    assert "secrets.token_hex" in str(error.value)  # the line says how to make a real one


@pytest.mark.parametrize("channel", [TELEGRAM, SMS])
def test_the_development_id_secret_is_refused_with_any_channel(channel: dict[str, object]) -> None:
    with pytest.raises(SettingsError, match="development value"):
        settings(**channel).check_for_server()
    with pytest.raises(SettingsError, match="development value"):
        settings(telegram_bot_token=SecretStr(TOKEN)).check_for_polling()


def test_a_short_id_secret_is_refused_with_a_channel() -> None:
    with pytest.raises(SettingsError, match="31 characters: use at least 32"):
        settings(**TELEGRAM, id_hash_secret=SecretStr("x" * 31)).check_for_server()


def test_without_a_channel_the_development_id_secret_is_fine() -> None:
    assert settings().id_hash_secret.get_secret_value() == DEVELOPMENT_ID_HASH_SECRET  # kneebot chat, simulate


@pytest.mark.parametrize("token", ["abc", "123456", ":abc", "123:abc def", "123:"])
def test_a_malformed_bot_token_is_refused_without_being_quoted(token: str) -> None:
    with pytest.raises(ValidationError) as error:
        settings(telegram_bot_token=SecretStr(token))
    line = one_line(error.value)
    assert line.startswith("TELEGRAM_BOT_TOKEN:") and token.strip() not in line.split(":", 1)[1]


def test_a_bot_token_pasted_with_a_line_end_is_read_without_it() -> None:
    assert settings(telegram_bot_token=SecretStr(TOKEN + "\n")).telegram_bot_token == SecretStr(TOKEN)


# --- the country and the emergency number (#15) ------------------------------------------------------------------


def test_uk_is_refused_with_a_line_suggesting_gb() -> None:
    with pytest.raises(ValidationError) as error:
        settings(default_country="UK")
    assert one_line(error.value) == (
        "DEFAULT_COUNTRY: 'UK' is not an ISO 3166 alpha-2 country code phonenumbers knows; did you mean GB?"
    )


@pytest.mark.parametrize("code", ["XX", "ZZ", "USA", "1", ""])
def test_a_country_phonenumbers_does_not_know_is_refused(code: str) -> None:
    with pytest.raises(ValidationError, match="not an ISO 3166"):
        settings(default_country=code)


def test_a_country_in_lower_case_is_read_in_upper_case(content: Content) -> None:
    s = settings(default_country="gb")
    assert s.default_country == "GB" and s.policy().default_country == "GB"
    assert dataclasses.replace(s.policy(), countries=content.countries).emergency(None).dial == "999"


@pytest.mark.parametrize("number", ["911", "112", "000", "10177", "0800 111 0 111", "+44 20 7188 7188"])
def test_an_emergency_number_overrides_the_countrys(content: Content, number: str) -> None:
    policy = dataclasses.replace(settings(emergency_number=number).policy(), countries=content.countries)
    assert policy.emergency("GB").dial == number and policy.emergency(None).dial == number
    assert policy.emergency("PL").param == number  # a country without a row too: the clinic's number, not 112


@pytest.mark.parametrize("number", ["91l", "1", "+", "call 911", "9-1-1", "9  11", "1234567890123456"])
def test_an_emergency_number_that_cannot_be_dialled_is_refused(number: str) -> None:
    with pytest.raises(ValidationError) as error:
        settings(emergency_number=number)
    assert one_line(error.value).startswith("EMERGENCY_NUMBER:")


# --- Redis and the rest ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["localhost:6379", "redis://:pw@host:notaport/0", "http://redis:6379"])
def test_a_malformed_redis_url_is_one_line_without_the_url(url: str) -> None:
    with pytest.raises(ValidationError) as error:
        settings(redis_url=url)
    line = one_line(error.value)
    assert line.startswith("REDIS_URL: is not a Redis URL") and "pw" not in line


def test_the_store_label_hides_the_redis_password() -> None:
    assert settings().store_label == "memory"
    assert settings(redis_url="redis://127.0.0.1:6379/0").store_label == "redis://127.0.0.1:6379/0"
    assert (
        settings(redis_url="rediss://user:hunter2@r.example:6380/1").store_label == "rediss://user:***@r.example:6380/1"
    )


def test_quiet_hours_off_turns_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIET_HOURS", "off")
    assert settings().quiet is None
    assert parse_quiet_hours("OFF") is None
    monkeypatch.setenv("QUIET_HOURS", "")  # empty is unset: the default window
    assert settings().quiet == parse_quiet_hours("21:00-08:00")


WHATSAPP = {
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": SecretStr("twilio-token"),
    "public_base_url": "https://kneebot.example.org",
    "whatsapp_from_number": "+15005550007",
}
TEMPLATES = "checkin.en=HX" + "a" * 32 + ":buttons,checkin.es=HX" + "b" * 32


def test_whatsapp_alone_is_a_channel_and_not_sms() -> None:
    s = settings(**WHATSAPP, whatsapp_templates=TEMPLATES, id_hash_secret=SecretStr(REAL_SECRET))
    s.check_for_server()
    assert s.whatsapp_enabled and not s.sms_enabled
    assert s.templates[("checkin", "en")].buttons and not s.templates[("checkin", "es")].buttons


def test_whatsapp_without_a_checkin_template_for_each_language_stops_start_up() -> None:
    s = settings(**WHATSAPP, whatsapp_templates="checkin.en=HX" + "a" * 32, id_hash_secret=SecretStr(REAL_SECRET))
    with pytest.raises(SettingsError, match="WHATSAPP_TEMPLATES has no check-in template for es"):
        s.check_for_server()


def test_whatsapp_without_the_twilio_account_stops_start_up() -> None:
    fields = {k: v for k, v in WHATSAPP.items() if k != "twilio_auth_token"}
    s = settings(**fields, whatsapp_templates=TEMPLATES, id_hash_secret=SecretStr(REAL_SECRET))
    with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN"):
        s.check_for_server()


@pytest.mark.parametrize(
    "templates",
    ["checkin=HX" + "a" * 32, "checkin.en=SM" + "a" * 32, "checkin.en=HX" + "a" * 32 + ":nope", "checkin.en=HXa"],
)
def test_a_template_not_of_the_form_is_one_line_naming_the_setting(templates: str) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(whatsapp_templates=templates)
    assert one_line(caught.value).startswith("WHATSAPP_TEMPLATES: invalid template")


def test_the_clinics_hours_are_given_per_language(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().clinic == {}
    assert settings(clinic_phone="555 0100").clinic == {"en": "555 0100", "es": "555 0100"}
    monkeypatch.setenv("CLINIC_PHONE", "555 0100")
    monkeypatch.setenv("CLINIC_HOURS", "Mon-Fri 8:00-18:00")
    assert settings().clinic["es"] == "555 0100 (Mon-Fri 8:00-18:00)"  # no Spanish given: as written
    monkeypatch.setenv("CLINIC_HOURS_ES", "lun-vie 8:00-18:00")
    assert settings().clinic == {"en": "555 0100 (Mon-Fri 8:00-18:00)", "es": "555 0100 (lun-vie 8:00-18:00)"}
    with pytest.raises(ValidationError):
        settings(clinic_hours_es=" ")
