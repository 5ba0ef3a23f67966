"""Fake provider APIs (Telegram Bot API, Twilio) served on loopback for integration tests."""
