"""A live classroom: learners' checks report to a class server, the instructor watches.

The instructor runs ``python -m ws_lessons classroom``; a learner joins in lesson 00 with
``join_class("ws://HOST:PORT", code="...", name="...")``. ``create_app()`` is the server
(FastAPI, imported only when used); the rest is the learner's side, which every check calls.
See ``docs/instructor.md``.
"""

from .reporter import announcements, class_status, join_class, leave_class

__all__ = ["announcements", "class_status", "create_app", "join_class", "leave_class"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
