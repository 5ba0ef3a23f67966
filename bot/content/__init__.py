"""Content: the flows and message catalogs, loaded from flows/ and locales/ and checked at start-up.

May import the triage core only.
"""
