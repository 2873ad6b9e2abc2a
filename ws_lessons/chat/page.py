"""The chat's browser page, in English or Simplified Chinese.

``static/index.html`` is a Jinja2 template: its words come from :data:`TEXT`, translated by
the package's catalogue. The page is in Chinese when the course speaks Chinese (the Chinese
edition, ``WS_LESSONS_LANG=zh``) or when the browser prefers Chinese to English
(``Accept-Language``, RFC 9110 §12.5.4); in English otherwise.
"""

from __future__ import annotations

import functools

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from ws_lessons import i18n
from ws_lessons.i18n import N_

TEXT = {
    # the page's markup
    "title": N_("Chat"),
    "name": N_("your name"),
    "room": N_("room"),
    "pattern": N_("1 to 32 letters, digits, _ - or ."),
    "join": N_("Join"),
    "start": N_("Pick a name and a room, then join."),
    "members": N_("Here"),
    "message": N_("message"),
    "send": N_("Send"),
    # what its script shows: {names} are filled in by the page's say(key, fields)
    "connecting": N_("Connecting…"),
    "connected": N_("Connected to {room} as {user}."),
    "joined": N_("{user} joined"),
    "left": N_("{user} left"),
    "refused": N_("Refused by the server: {reason}."),
    "policy": N_("policy violation"),
    "lost": N_("Disconnected; reconnecting in {seconds} s…"),
    "closed": N_("Disconnected (closed with {code}); reconnecting in {seconds} s…"),
    "silent": N_("Disconnected (no answer to the heartbeat); reconnecting in {seconds} s…"),
    "slow": N_("The network is slow; wait a moment before sending more."),
}
"""Every word the page shows, by the key its template and script use."""

HTML_LANG = {"en": "en", "zh": "zh-CN"}
_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("ws_lessons.chat", "static"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a misspelt key fails the rendering, not the reader
)


@functools.cache
def render(language: str) -> str:
    """The page in ``language``: "en" or "zh"."""
    text = {key: i18n.translate(message, language) for key, message in TEXT.items()}
    return _templates.get_template("index.html").render(lang=HTML_LANG[language], text=text)


def preferred(accept_language: str | None) -> str | None:
    """The course's language ("en" or "zh") the browser ranks first in ``Accept-Language``,
    e.g. "zh" for ``fr, zh-CN;q=0.8, en;q=0.5``; None if it names neither."""
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, parameters = item.strip().partition(";")
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                continue  # a malformed weight: ignore that language, not the header
        primary = tag.strip().lower().split("-")[0]
        if primary in i18n.LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else None


def language_for(request: Request) -> str:
    """Chinese if the course speaks Chinese or the browser prefers it; else English."""
    if i18n.language() == "zh":
        return "zh"
    return preferred(request.headers.get("accept-language")) or "en"


def page_for(request: Request) -> HTMLResponse:
    """The chat page for ``request``, saying which language it is in and what chose it."""
    language = language_for(request)
    headers = {"Content-Language": HTML_LANG[language], "Vary": "Accept-Language"}
    return HTMLResponse(render(language), headers=headers)
