"""The triage core. Pure: standard library and pydantic only; no I/O, no clock, no environment."""
