"""The errors the package raises on purpose, all under one root.

:exc:`WsLessonsError` is the root of everything below; each other class lives in the
module named beside it, where it is raised, and keeps the built-in base it had, so that
``except ValueError`` and ``except RuntimeError`` still catch what they caught::

    WsLessonsError
    ├── CodecError                  the sans-I/O codec: a peer broke RFC 6455
    │   ├── HandshakeError          (ValueError) handshake.py: a malformed handshake (§4)
    │   ├── ProtocolError           frames.py: a frame breaks a rule of §5; has the close code
    │   └── IncompleteFrame         frames.py: the data ends before the frame does
    ├── ServerError                 (RuntimeError) server.py: a server did not start
    ├── ServiceUnavailable          (RuntimeError) services.py: Redis or nginx missing
    ├── AutobahnMissing             (RuntimeError) autobahn.py: the test suite missing
    ├── ProjectError                (ValueError) project.py: a ``%%project`` cell refused
    ├── ClassFull                   classroom/store.py: a new name, and the class is full
    └── StillRunning                exercises/bounded.py: a learner's code ran past its deadline

Two families stand apart, on purpose. What an exercise check raises to give its verdict,
:exc:`~ws_lessons.exercises.core.Hint` and :exc:`~ws_lessons.exercises.core.Skip`, says
something about the learner's answer, not about the package: their root is
:exc:`~ws_lessons.exercises.core.Feedback`. :exc:`~ws_lessons.exercises.bounded.OutOfSteps`
is a ``BaseException``, so that the learner's ``except Exception`` lets it through. The
reference chat (``ws_lessons.chat``) documents its own errors.

This module imports nothing, so that the codec, which imports only the standard library,
can raise these.
"""

__all__ = ["CodecError", "WsLessonsError"]


class WsLessonsError(Exception):
    """The root of every error the package raises on purpose."""


class CodecError(WsLessonsError):
    """The root of the sans-I/O codec's errors (``handshake.py``, ``frames.py``)."""
