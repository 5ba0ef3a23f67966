"""The staff console: the clinic's pages in the browser (cases, statistics), accounts, sessions and `kneebot staff`.

Between the shell and the app: may import the shell, storage, content, triage and the clock; only bot.app imports it.
"""
