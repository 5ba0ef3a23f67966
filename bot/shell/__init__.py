"""The conversation shell: runs turns through the core and applies their effects (replies on any channel of the
registry, follow-ups, staff cases and pages, due check-ins).

May import the triage core, content, channels, storage and the clock; never bot.app.
"""
