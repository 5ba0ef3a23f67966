"""Storage adapters: Redis and in-process stores, and every Redis key name.

May import the triage core (to serialise its models), content and the clock; not channels, the shell or bot.app.
"""
