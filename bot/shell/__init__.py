"""The conversation shell: runs turns through the core and applies their effects (replies, follow-ups, staff cases).

May import the triage core, content, channels, storage and the clock; never bot.app.
"""
