"""Lesson 09's chat exercise: ``check_chat(app)`` runs the chat's contract
(:mod:`ws_lessons.chat.contract`) against an app; the answer is the course's reference chat."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ws_lessons.chat import contract
from ws_lessons.exercises.core import exercise
from ws_lessons.i18n import N_

__all__ = ["check_chat", "solution_chat"]


@exercise(
    "chat",
    nudge=N_(
        "Read the first clause that failed: its hint names the mistake, and the step of lesson "
        "09 that builds that part of the chat."
    ),
    hint=N_(
        "Each clause is one rule of docs/chat-contract.md. Fix the first one that fails and run "
        "the check again: later clauses often fail for the same reason."
    ),
)
def check_chat(app: Any) -> contract.ContractVerdict:
    """Run the chat contract against ``app`` on a real server; print each clause's outcome.

    Returns a verdict that is true when every clause held. Never raises.
    """
    return contract.check(app)


def solution_chat() -> FastAPI:
    """The course's reference chat: the same contract, with tokens, limits and history."""
    from ws_lessons.chat import create_app

    return create_app()
