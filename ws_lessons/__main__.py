"""The course's command line: ``python -m ws_lessons doctor | bench | serve | classroom |
autobahn``."""

from __future__ import annotations

import argparse
import os
import sys

from ws_lessons.chat import settings as chat_settings

__all__ = ["SECRET_VARIABLE", "main"]

SECRET_VARIABLE = "WS_LESSONS_SECRET"
"""The environment variable that holds the chat's token secret (never a command-line
option: ``ps`` shows every process's command line to every user of the machine)."""


class _RefuseSecret(argparse.Action):
    """``--secret`` is gone: say where the secret goes now."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            f"--secret is not an option: a command line is visible to every user (ps). "
            f"Set the environment variable {SECRET_VARIABLE} instead."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ws_lessons", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check this machine for the course and say what to fix")
    bench = commands.add_parser("bench", help="run the benchmarks (ratios against baselines)")
    bench.add_argument("suites", nargs="*", help="which benchmarks (default: all)")
    serve = commands.add_parser(
        "serve",
        help="run an app of the course as a standalone server",
        epilog=f"The chat signs its tokens with ${SECRET_VARIABLE} (default: a random one "
        "per run, shared by its workers: tokens then die with the server).",
    )
    serve.add_argument(
        "app",
        choices=["chat", "scratch"],
        help="chat: the course's chat; scratch: the echo server built without a framework "
        "(the options below are the chat's, unless they say both)",
    )
    serve.add_argument("--secret", nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)
    chat_settings.add_arguments(serve)
    classroom = commands.add_parser(
        "classroom", help="run a class: learners' checks report to a live dashboard"
    )
    classroom.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for learners on the room's network "
        "(default: 127.0.0.1)",
    )
    classroom.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    classroom.add_argument(
        "--db",
        metavar="FILE",
        default="classroom.sqlite3",
        help="the SQLite file that keeps the class: start again on it and nothing is lost "
        "(default: classroom.sqlite3 in this folder)",
    )
    suite = commands.add_parser(
        "autobahn",
        help="Autobahn|Testsuite: install it, run it, or record lesson 06's run for its report",
    )
    suite.add_argument("action", choices=["install", "run", "record"])
    suite.add_argument("urls", nargs="*", metavar="URL", help="ws:// URLs of servers to test")
    suite.add_argument("--cases", nargs="+", help="case patterns, e.g. 6.* (default: 1-10)")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from ws_lessons import doctor

        report = doctor.run()
        print(report)
        return 0 if report.healthy else 1
    if args.command == "classroom":
        import contextlib

        from ws_lessons.classroom.app import run

        with contextlib.suppress(KeyboardInterrupt):
            run(args.host, args.port, args.db)
        return 0
    if args.command == "autobahn":
        return _autobahn(args.action, args.urls, args.cases)
    if args.command == "serve" and args.app == "scratch":
        import asyncio
        import contextlib

        from ws_lessons import scratch

        bounds = scratch.Bounds(
            request_timeout=args.request_timeout,
            write_timeout=args.request_timeout,
            max_clients=args.max_clients,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(scratch.main(args.host, args.port, bounds))
        return 0
    if args.command == "serve":
        from ws_lessons import chat

        try:
            settings = chat_settings.from_arguments(args, os.environ.get(SECRET_VARIABLE))
        except chat_settings.SettingsError as exc:
            parser.error(str(exc))
        chat.run(settings)
        return 0
    from ws_lessons import bench as benchmarks

    return benchmarks.main(args.suites)


def _autobahn(action: str, urls: list[str], cases: list[str] | None) -> int:
    from ws_lessons import autobahn

    try:
        if action == "install":
            print(f"wstest: {autobahn.install()}")
            return 0
        if action == "record":
            report = autobahn.record()
            print(report)
            print(f"recorded in {autobahn.RECORDED}: {report.provenance()}")
            return 0
        report = autobahn.run({url: url for url in urls}, cases or autobahn.ALL_CASES)
    except autobahn.AutobahnMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    print(report)
    print(f"reports: {report.outdir}")
    return 1 if any(report.failed(url) for url in urls) else 0


if __name__ == "__main__":
    sys.exit(main())
