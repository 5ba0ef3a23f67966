"""Channels: turn transport formats into events and render effects back out (Telegram, SMS, terminal)."""
