"""Channels: one module per provider behind one protocol (base.py's `Channel`, held in the registry `Channels`):
its webhook in, its messages out, its ids and limits. Telegram, SMS and WhatsApp; twilio.py is what the last two share.

May import the triage core and content (the message catalogs); not storage, the shell or bot.app; no channel module
imports another's.
"""
