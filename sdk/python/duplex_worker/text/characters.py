"""Swift ``Character`` semantics for Python strings.

Swift's ``TextSegmenter`` works on ``Character`` values: extended grapheme clusters such as
``"e\\u0301"``, ``"\\r\\n"`` or a family emoji. This module splits text into such clusters
(a compact implementation of the UAX #29 rules that matter for speech text: CR LF, controls,
combining marks and other extenders, spacing marks, Hangul syllables, regional-indicator
pairs and emoji ZWJ sequences) and answers the ``Character`` property questions the
segmenter asks, by the cluster's first code point like Swift does.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: Unicode ``White_Space`` (Swift ``Character.isWhitespace``). Python's ``str.isspace`` differs
#: (it also accepts U+001C…U+001F).
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000")
#: Swift ``Character.isNewline``.
NEWLINES = frozenset("\n\x0b\x0c\r\x85\u2028\u2029")

_ZWJ = 0x200D

# Grapheme break classes.
_OTHER, _CR, _LF, _CONTROL, _EXTEND, _ZWJ_CLASS, _SPACING, _RI, _L, _V, _T, _LV, _LVT, _PICT = range(14)


@lru_cache(maxsize=4096)
def _break_class(cp: int) -> int:
    if cp == 0x0D:
        return _CR
    if cp == 0x0A:
        return _LF
    if cp == _ZWJ:
        return _ZWJ_CLASS
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return _L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _T
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    if 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F or cp == 0x200C:
        return _EXTEND  # emoji modifiers, tag characters, ZWNJ
    category = unicodedata.category(chr(cp))
    if category in ("Mn", "Me"):
        return _EXTEND
    if category == "Mc":
        return _SPACING
    if category in ("Cc", "Zl", "Zp") or (category == "Cf" and cp not in (0x200D, 0x200C)):
        return _CONTROL
    if _is_pictographic(cp):
        return _PICT
    return _OTHER


def _is_pictographic(cp: int) -> bool:
    """``Extended_Pictographic``, approximated by the blocks that hold it."""
    return (
        0x1F000 <= cp <= 0x1FAFF or 0x1FC00 <= cp <= 0x1FFFD or 0x2600 <= cp <= 0x27BF
        or 0x2300 <= cp <= 0x23FF or 0x2B00 <= cp <= 0x2BFF or 0x2190 <= cp <= 0x21FF
        or cp in (0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x25AA, 0x25AB, 0x25B6,
                  0x25C0, 0x3030, 0x303D, 0x3297, 0x3299) or 0x25FB <= cp <= 0x25FE)


def graphemes(text: str) -> list[str]:
    """Splits ``text`` into extended grapheme clusters (Swift ``Array(text)``)."""
    if text.isascii():
        # Only CR LF joins in ASCII.
        if "\r\n" not in text:
            return list(text)
    out: list[str] = []
    start = 0
    prev = -1
    ri_run = 0          # regional indicators in the current cluster
    pict_zwj = False    # the cluster so far is ExtPict Extend* ZWJ
    pict_seen = False   # the cluster so far is ExtPict Extend*
    for i, ch in enumerate(text):
        cls = _break_class(ord(ch))
        if i > 0 and not _joins(prev, cls, ri_run, pict_zwj):
            out.append(text[start:i])
            start = i
            ri_run = 0
            pict_seen = False
            pict_zwj = False
        # Update the emoji and regional-indicator state with this code point.
        if cls == _RI:
            ri_run += 1
        if cls == _PICT:
            pict_seen, pict_zwj = True, False
        elif cls == _EXTEND and pict_seen:
            pass
        elif cls == _ZWJ_CLASS and pict_seen:
            pict_zwj = True
        else:
            pict_seen = pict_zwj = False
        prev = cls
    if text:
        out.append(text[start:])
    return out


def _joins(prev: int, cls: int, ri_run: int, pict_zwj: bool) -> bool:
    """Whether no grapheme break lies between a code point of class ``prev`` and one of
    class ``cls`` (UAX #29 rules GB3–GB13)."""
    if prev == _CR and cls == _LF:
        return True  # GB3
    if prev in (_CR, _LF, _CONTROL) or cls in (_CR, _LF, _CONTROL):
        return False  # GB4, GB5
    if prev == _L and cls in (_L, _V, _LV, _LVT):
        return True  # GB6
    if prev in (_LV, _V) and cls in (_V, _T):
        return True  # GB7
    if prev in (_LVT, _T) and cls == _T:
        return True  # GB8
    if cls in (_EXTEND, _ZWJ_CLASS, _SPACING):
        return True  # GB9, GB9a
    if prev == _ZWJ_CLASS and cls == _PICT and pict_zwj:
        return True  # GB11
    if prev == _RI and cls == _RI:
        return ri_run % 2 == 1  # GB12, GB13
    return False  # GB999


def is_whitespace(cluster: str) -> bool:
    """Swift ``Character.isWhitespace``."""
    return cluster[0] in WHITESPACE


def is_newline(cluster: str) -> bool:
    """Swift ``Character.isNewline``."""
    return cluster[0] in NEWLINES


def is_letter(cluster: str) -> bool:
    """Swift ``Character.isLetter`` (Unicode ``Alphabetic`` of the first code point,
    approximated as letters plus letter numbers)."""
    first = cluster[0]
    return first.isalpha() or (not first.isascii() and unicodedata.category(first) == "Nl")


def is_number(cluster: str) -> bool:
    """Swift ``Character.isNumber`` (the first code point has a numeric type)."""
    return cluster[0].isnumeric()


def is_letter_or_number(cluster: str) -> bool:
    """``is_letter(c) or is_number(c)``."""
    first = cluster[0]
    return first.isalnum() or (not first.isascii() and unicodedata.category(first) == "Nl")
