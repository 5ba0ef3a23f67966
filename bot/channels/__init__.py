"""Channels: turn transport formats into events and render effects back out (Telegram, SMS, terminal).

May import the triage core and content (the message catalogs); not storage, the shell or bot.app.
"""
