"""Storage adapters: Redis (through redis-py's public API) and in-process stores, every Redis key name (keys.py) and
every Lua script (lua/*.lua, run by scripts.py).

May import the triage core (to serialise its models), content and the clock; not channels, the shell or bot.app.
"""
