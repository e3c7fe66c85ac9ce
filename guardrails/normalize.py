"""Text normalisation for injection detection: what an attacker hides, made visible.

`normalize` folds compatibility forms (NFKC), drops invisible and zero-width characters, maps common
confusables (Cyrillic/Greek look-alikes, full-width forms) to ASCII and collapses spaced-out letters.
`decoded_payloads` returns the readable text hidden in base64 or hex runs, so rules and the classifier
see it too. `segments` splits a text into sentence-sized pieces for per-segment scoring.

Example:
    normalize("Ign\u200bore prev\u0456ous")  # -> "Ignore previous" (zero-width space, Cyrillic i)
"""

from __future__ import annotations

import base64
import binascii
import re
import string
import unicodedata

__all__ = ["decoded_payloads", "deleet", "normalize", "segments"]

_CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u", "ν": "v", "ο": "o", "α": "a", "ε": "e",
        "ι": "i", "κ": "k", "τ": "t", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
        "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I", "Ѕ": "S", "Α": "A", "Β": "B", "Ε": "E", "Ι": "I",
        "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "ℓ": "l",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_SPACED = re.compile(r"\b(?:\w ){3,}\w\b")
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){8,}\b")
_WORDS = re.compile(r"[a-z]+")
# Words common in English (and in instructions to a model): rot13 text that gains several of them was English.
_COMMON = frozenset(
    {
        "the",
        "and",
        "you",
        "your",
        "to",
        "of",
        "all",
        "is",
        "are",
        "be",
        "not",
        "now",
        "any",
        "from",
        "with",
        "this",
        "that",
        "previous",
        "instructions",
        "ignore",
        "rules",
        "print",
        "show",
        "reveal",
        "tell",
        "me",
        "system",
        "prompt",
        "password",
        "secret",
    }
)
_LOW, _UP = string.ascii_lowercase, string.ascii_uppercase
_ROT13 = str.maketrans(_LOW + _UP, _LOW[13:] + _LOW[:13] + _UP[13:] + _UP[:13])
_ROT13_MARKERS = ("gur ", "naq ", "lbh", "vafgehpgvba", "cerivbhf", "vtaber", "cnffjbeq", "frperg")
_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\n+|\s{3,}")


def _visible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat != "Cf" and not (cat == "Mn" and ch in "\u034f\u17b4\u17b5")


def normalize(text: str) -> str:
    """NFKC, invisible characters removed, confusables mapped, spaced-out letters joined."""
    if not text.isascii():  # ASCII is its own NFKC form and holds no format character or confusable
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch for ch in text if _visible(ch)).translate(_CONFUSABLES)
    return _SPACED.sub(lambda m: m.group(0).replace(" ", ""), text)


def deleet(text: str) -> str:
    """Undo digit-for-letter substitutions (`1gn0r3` -> `ignore`), for the rules layer."""
    return text.lower().translate(_LEET)


def _printable(raw: bytes) -> str | None:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(ch.isalpha() or ch == " " for ch in decoded)
    return decoded if len(decoded) >= 8 and letters >= 0.8 * len(decoded) and " " in decoded else None


def decoded_payloads(text: str) -> list[str]:
    """Readable text hidden in Unicode tag characters, in base64 or hex runs (only runs that decode to words), or
    in rot13 (only when the rotated text reads as English and the text itself does not)."""
    smuggled = (
        "" if text.isascii() else "".join(chr(ord(c) - 0xE0000) for c in text if "\U000e0020" <= c <= "\U000e007e")
    )
    found: list[str] = [smuggled] if smuggled.strip() else []
    for match in _B64.finditer(text):
        token = match.group(0)
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if (decoded := _printable(raw)) is not None:
            found.append(decoded)
    for match in _HEX.finditer(text):
        if (decoded := _printable(bytes.fromhex(match.group(0)))) is not None:
            found.append(decoded)
    if (rotated := _rot13(text)) is not None:
        found.append(rotated)
    return found


def _rot13(text: str) -> str | None:
    """The rot13 reading of `text`, when it reads as English far better than the text itself does."""
    lower = text.lower()
    if not any(marker in lower for marker in _ROT13_MARKERS):  # cheap: most text never gets past here
        return None
    rotated = text.translate(_ROT13)
    gained = sum(w in _COMMON for w in _WORDS.findall(rotated.lower()))
    had = sum(w in _COMMON for w in _WORDS.findall(lower))
    return rotated if gained >= 3 and gained > 2 * had else None


def segments(text: str, *, max_chars: int = 400) -> list[str]:
    """Sentence- or line-sized pieces (long ones cut), each at least three characters."""
    pieces: list[str] = []
    for raw in _SPLIT.split(text):
        part = raw.strip()
        while len(part) > max_chars:
            cut = part.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            pieces.append(part[:cut])
            part = part[cut:].strip()
        if len(part) >= 3:
            pieces.append(part)
    return pieces
