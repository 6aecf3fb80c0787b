"""Tokenizers: torchtext's ``basic_english`` and a character tokenizer."""

from __future__ import annotations

import re
from collections.abc import Callable

# torchtext's basic_english rules, in its order: each pattern becomes its replacement.
_BASIC_ENGLISH = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "),
    (r"\(", " ( "), (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "), (r"\:", " "),
    (r"\s+", " "),
]]


def basic_english(line: str) -> list[str]:
    """Lower-cased words with punctuation split off (torchtext's ``basic_english``).

    Example:
        >>> basic_english("You can't stop, can you?")
        ['you', 'can', "'", 't', 'stop', ',', 'can', 'you', '?']
    """
    line = line.lower()
    for pattern, replacement in _BASIC_ENGLISH:
        line = pattern.sub(replacement, line)
    return line.split()


def characters(line: str) -> list[str]:
    """Every character, white space included: ``list(line)``."""
    return list(line)


def get_tokenizer(name: str | None) -> Callable[[str], list[str]]:
    """``"basic_english"``, ``"char"``, or None for ``str.split``."""
    tokenizers = {"basic_english": basic_english, "char": characters, None: str.split}
    if name not in tokenizers:
        raise ValueError(f"get_tokenizer: unknown tokenizer {name!r} (expected one of "
                         "'basic_english', 'char' or None)")
    return tokenizers[name]
