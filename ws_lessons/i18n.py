"""English by default, Simplified Chinese in the Chinese edition.

Every message the package prints in a lesson is marked ``_("...")`` (translated when it is
shown) or ``N_("...")`` (a message kept until later, translated with ``_(message)`` where it
is shown), with ``{name}`` placeholders filled by ``.format()`` after translation; the
``nudge=`` and ``hint=`` texts of ``@exercise(...)`` are found without a mark. The labels a
lesson's own cells print are marked ``tr("...")`` (:func:`tr`) in the English lessons. The
catalogue is gettext's: ``ws_lessons/locale/zh_CN/LC_MESSAGES/ws_lessons.po``, compiled to
``.mo`` by ``python tools/catalogue.py``.

The language: :func:`set_language`, else ``$WS_LESSONS_LANG`` (``zh``, ``zh_CN``, ``en``...),
else Chinese when the kernel runs in a ``notebooks/zh`` folder (Jupyter starts a kernel in its
notebook's folder), else English.
"""

from __future__ import annotations

import functools
import gettext
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE", "N_", "Message", "language", "messages", "set_language"]

DOMAIN = "ws_lessons"
LOCALE = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "English", "zh": "简体中文"}
_chosen: str | None = None


def set_language(language: str | None) -> None:
    """Speak ``language`` ("en" or "zh") from now on; ``None`` goes back to the automatic choice."""
    global _chosen
    _chosen = None if language is None else _normalise(language)


def language() -> str:
    """The language messages are shown in now: "en" or "zh"."""
    if _chosen:
        return _chosen
    if os.environ.get("WS_LESSONS_LANG"):
        return _normalise(os.environ["WS_LESSONS_LANG"], source="$WS_LESSONS_LANG")
    try:
        here = Path.cwd()
    except OSError:  # the working folder was deleted
        return "en"
    return "zh" if here.name == "zh" and here.parent.name == "notebooks" else "en"


def _(message: str) -> str:
    """``message`` in the current language (itself where the catalogue has no translation)."""
    return translate(message, language())


def translate(message: str, language: str) -> str:
    """``message`` in ``language`` ("en" or "zh"), whatever the current language is."""
    if not message:  # gettext's translation of "" is the catalogue's header
        return message
    return _translations(_normalise(language)).gettext(message)


def tr(message: str, **values: object) -> str:
    """What a lesson's cell prints, in the current language: ``print(tr("{n} bytes", n=3))``.

    The cells of the English lessons mark their labels with ``tr("...")`` (the catalogue
    finds them there); ``values`` fill the ``{name}`` placeholders after translation.
    """
    text = _(message)
    return text.format(**values) if values else text


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it yet (it is shown later)."""
    return message


def _normalise(language: str, source: str = "") -> str:
    code = language.strip().lower().replace("-", "_")
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en") or code in {"c", "posix"}:
        return "en"
    where = f" (in {source})" if source else ""
    raise ValueError(
        f"no such language: {language!r}{where}; the course speaks {', '.join(LANGUAGES)}"
    )


@functools.cache
def _translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE, languages=["zh_CN"], fallback=True)


class Message(str):
    """A message a lesson's cell prints as it is, ``print(STORY)``: it is shown in the current
    language each time (``str()`` and formatting), and compares as its English text."""

    def __str__(self) -> str:
        return _(str.__str__(self))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def messages(table: Mapping[str, str]) -> dict[str, Message]:
    """A table of kept messages (``N_``), each shown in the current language: a lesson's
    ``for letter, line in STORY.items(): print(letter, line)`` prints Chinese in the Chinese
    edition, with the same code."""
    return {key: Message(text) for key, text in table.items()}


language()  # a misspelt $WS_LESSONS_LANG fails the import, clearly, rather than every message
