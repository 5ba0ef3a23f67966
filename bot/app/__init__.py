"""The processes: settings, wiring, the web server, the worker and the command line.

May import every other layer; nothing outside bot.app imports it.
"""
