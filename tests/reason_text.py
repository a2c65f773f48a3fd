"""What a Japanese reader must not find in a summary: the fixed words of an English reason."""

from __future__ import annotations

import re
import string

from remediate.reasons import REASONS

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji


def english_phrases() -> set[str]:
    """Every run of two or more English words a reason's English text holds between its placeholders
    ("every check passed", "did not succeed", "needs a human", ...)."""
    phrases: set[str] = set()
    for english in REASONS.values():
        for literal, _, _, _ in string.Formatter().parse(english):
            for run in re.findall(r"[A-Za-z][A-Za-z' -]*[A-Za-z]", literal):
                if " " in run.strip():
                    phrases.add(run.strip())
    return phrases


def english_left(text: str) -> list[str]:
    """The English reason phrases found in `text`, longest first."""
    return sorted((phrase for phrase in english_phrases() if phrase in text), key=len, reverse=True)


def has_japanese(text: str) -> bool:
    return bool(JAPANESE.search(text))
