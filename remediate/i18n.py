"""The language remediate speaks: gettext catalogs (remediate/locale), the choice of language, and click's own
messages in the same language.

    from remediate.i18n import _, N_, gettext_in, ngettext, pgettext

    raise UsageError(_("{path}: no such hosts file").format(path=path))   # translated now
    click.echo(ngettext("{count} host", "{count} hosts", n).format(count=n))
    @click.option("--hosts", help=N_("The hosts file."))                  # marked; click shows it translated
    pgettext("outcome", "escalate")                                        # a word with two senses: 要対応
    gettext_in("ja", REASONS[id])                                          # in ja, whatever the current language

A message is a constant (the catalog is extracted from the source) with named str.format fields, never an
f-string. Languages: en (the msgids themselves) and ja.

Click looks its own messages up with the standard library's gettext.gettext, in the global text domain and the
language of $LANGUAGE; remediate binds its domain as the global one (its catalog carries click's messages too)
and use_language points $LANGUAGE at the chosen language, so that click and remediate always agree.
"""

from __future__ import annotations

import gettext
import locale
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DOMAIN = "remediate"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "ja")
LANGUAGE_ENV = "REMEDIATE_LANG"  # the setting's variable (config.SETTINGS): above the locale, below --lang
_LOCALE_ENV = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # GNU gettext's order

_translations: dict[str, gettext.NullTranslations] = {}
_current = "en"


def _translation(lang: str) -> gettext.NullTranslations:
    if lang not in _translations:
        _translations[lang] = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    return _translations[lang]


def _(message: str) -> str:
    """`message` in the current language."""
    return _translation(_current).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the current language (Japanese has one form)."""
    return _translation(_current).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in the current language, as meant in `context` (a word English uses in two senses)."""
    return _translation(_current).pgettext(context, message)


def gettext_in(lang: str, message: str) -> str:
    """`message` in `lang`, whatever the current language (a reason is kept in English for machines and told
    in the reader's language on screen)."""
    return _translation(lang).gettext(message)


def translated(table: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """A table of N_()-marked messages (a value may be a tuple of them) in `lang`."""
    def one(value: Any) -> Any:
        return tuple(map(one, value)) if isinstance(value, tuple) else gettext_in(lang, value)

    return {key: one(value) for key, value in table.items()}


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it now (click help texts: translated when shown)."""
    return message


def language() -> str:
    """The current language: en or ja."""
    return _current


def use_language(lang: str) -> None:
    """Speak `lang` (en or ja) from now on: remediate's messages and click's."""
    global _current
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    _current = lang
    os.environ["LANGUAGE"] = lang  # click's gettext.gettext reads it at every lookup


@contextmanager
def in_language(lang: str) -> Iterator[None]:
    """Speak `lang` inside the block; the language (and $LANGUAGE) before it afterwards."""
    before, variable = _current, os.environ.get("LANGUAGE")
    use_language(lang)
    try:
        yield
    finally:
        use_language(before)
        if variable is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = variable


def resolve_language(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language to speak: `explicit` (--lang), else $REMEDIATE_LANG, else the first of LANGUAGE, LC_ALL,
    LC_MESSAGES and LANG that is set (ja when it starts with ja, else en), else the user's locale (Windows sets no
    LANG: ``Japanese_Japan`` decides there)."""
    environ = os.environ if environ is None else environ
    if explicit in LANGUAGES:
        return str(explicit)
    if environ.get(LANGUAGE_ENV) in LANGUAGES:
        return environ[LANGUAGE_ENV]
    for name in _LOCALE_ENV:
        value = environ.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    try:
        name = locale.getlocale()[0] or ""
    except ValueError:
        name = ""
    return "ja" if name.lower().startswith(("ja", "japanese")) else "en"


def language_in_arguments(args: Sequence[str]) -> str | None:
    """The value of the last --lang in a command line (``--lang ja`` or ``--lang=ja``) before any ``--``, so that
    the language is known before click parses it (help and usage errors); None without one."""
    found = None
    for index, word in enumerate(args):
        if word == "--":
            break
        if word == "--lang" and index + 1 < len(args):
            found = args[index + 1]
        elif word.startswith("--lang="):
            found = word.partition("=")[2]
    return found


gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
gettext.textdomain(DOMAIN)  # click's messages are looked up in remediate's catalog
