"""Message catalogs: render a message key in a locale, worded for the channel where the catalog has a channel's own
wording ("answer.not_understood.telegram": tap a button; ".sms": reply with a number). The locale and the channel are
always arguments, never ambient state."""

from __future__ import annotations

import string
from collections.abc import Mapping

from bot.triage.effects import Param, Text

_AND = {"en": "and", "es": "y"}
_OR = {"en": "or", "es": "o"}
# Lists of alternatives ("any of these", "which one") read with "or"; lists of facts the person gave read with "and".
_ALTERNATIVES = frozenset({"causes", "signs", "choices"})
# Channels a message may have its own wording for: `<key>.<channel>`, used in place of `<key>` on that channel.
CHANNEL_VARIANTS = ("sms", "telegram")


class Catalog:
    def __init__(self, messages: Mapping[str, Mapping[str, str]], default_locale: str = "en") -> None:
        self._messages = {locale: dict(keys) for locale, keys in messages.items()}
        self.default_locale = default_locale

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(sorted(self._messages))

    def keys(self, locale: str) -> set[str]:
        return set(self._messages.get(locale, {}))

    def has(self, key: str, locale: str) -> bool:
        return key in self._messages.get(locale, {})

    def raw(self, key: str, locale: str) -> str:
        return self._messages[locale][key]

    def labels(self, locale: str) -> Mapping[str, str]:
        return self._messages[locale]

    def render(self, text: Text, locale: str, channel: str | None = None) -> str:
        """The message in `locale`; on `channel`, its wording for that channel if the catalog has one."""
        key = text.key
        if channel is not None and f"{key}.{channel}" in self._messages.get(locale, {}):
            key = f"{key}.{channel}"
        params = {name: self._param(value, locale, name in _ALTERNATIVES) for name, value in text.params}
        return self.raw(key, locale).format_map(params)

    def _param(self, value: Param, locale: str, alternatives: bool) -> str:
        if isinstance(value, tuple):
            return join_list([self.raw(k, locale) for k in value], locale, alternatives)
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


def join_list(items: list[str], locale: str, alternatives: bool = False) -> str:
    if len(items) <= 1:
        return "".join(items)
    word = (_OR if alternatives else _AND).get(locale, "and")
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}
