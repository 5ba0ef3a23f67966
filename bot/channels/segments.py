"""SMS encoding: fold text to GSM-7 where the language allows, and count segments (GSM-7 153/160, UCS-2 67/70)."""

from __future__ import annotations

import re
import unicodedata

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
# Any character outside GSM-7 (both tables): text without one needs no folding and is counted in septets.
_NOT_GSM = re.compile("[^" + re.escape("".join(sorted(GSM_BASIC | GSM_EXTENDED))) + "]")
_FOLD = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " ", "•": "-"}


def to_gsm(text: str) -> str:
    """Replace characters GSM-7 lacks with their nearest GSM-7 form (á -> a, curly quotes -> straight)."""
    if _NOT_GSM.search(text) is None:
        return text
    out = []
    for ch in text:
        ch = _FOLD.get(ch, ch)
        if len(ch) == 1 and ch not in GSM_BASIC and ch not in GSM_EXTENDED:
            base = unicodedata.normalize("NFD", ch)[0]
            if base in GSM_BASIC:
                ch = base
        out.append(ch)
    return "".join(out)


def is_gsm(text: str) -> bool:
    return _NOT_GSM.search(text) is None


def segments(text: str) -> int:
    if is_gsm(text):
        units = len(text) + sum(text.count(ch) for ch in GSM_EXTENDED)
        return 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return 1 if units <= 70 else -(-units // 67)
