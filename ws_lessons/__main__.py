"""The course's command line: ``python -m ws_lessons doctor | bench | serve | classroom |
autobahn``."""

from __future__ import annotations

import argparse
import os
import sys

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
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    serve.add_argument("--secret", nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)
    serve.add_argument(
        "--allow-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="a browser origin allowed to connect besides the chat's own, e.g. "
        "http://localhost:3000, or * for any (repeatable)",
    )
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "--history",
        metavar="PATH",
        help="keep room history and seq in this SQLite file, across restarts (default: memory)",
    )
    where.add_argument(
        "--redis",
        metavar="URL",
        help="share rooms with every process given the same Redis, e.g. redis://127.0.0.1:6379",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes serving the one port; above 1 needs --redis (default: 1)",
    )
    serve.add_argument("--ssl-certfile", metavar="PEM", help="serve https:// and wss://")
    serve.add_argument("--ssl-keyfile", metavar="PEM", help="the certificate's private key")
    serve.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take the client's address and scheme from X-Forwarded-For and "
        "X-Forwarded-Proto, when they come from --forwarded-allow-ips (default: on)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxy addresses to trust, or * for any "
        "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
    )
    serve.add_argument(
        "--max-size",
        type=int,
        default=64 * 1024,
        metavar="BYTES",
        help="largest message a client may send; bigger closes with 1009 (default: 65536)",
    )
    serve.add_argument(
        "--ping-interval",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="ping every client this often (default: 20)",
    )
    serve.add_argument(
        "--ping-timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="drop a client that has not answered a ping within this time (default: 20)",
    )
    serve.add_argument(
        "--rate",
        type=float,
        default=5.0,
        metavar="N",
        help="messages a second one connection may send on average (default: 5)",
    )
    serve.add_argument(
        "--burst",
        type=int,
        default=10,
        metavar="N",
        help="messages one connection may send in a burst (default: 10)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=5,
        metavar="N",
        help="connections one user may hold at once (default: 5)",
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a new connection must send its request (a handshake) within this time, "
        "else 408; the scratch server also cuts a client that does not read what it is "
        "sent within this time (both servers; default: 10)",
    )
    serve.add_argument(
        "--max-clients",
        type=int,
        metavar="N",
        help="connections this process holds at once, then 503 (both servers; default: the "
        "open-file limit, raised to its hard limit, minus 64)",
    )
    serve.add_argument(
        "--keep-rooms",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="keep a room's history this long after its last member left (default: 300)",
    )
    serve.add_argument(
        "--max-rooms",
        type=int,
        default=200,
        metavar="N",
        help="rooms nobody is in whose history is kept; the longest idle goes first (default: 200)",
    )
    serve.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM, close the chat's clients (1001) in batches over half this time, "
        "and exit within it (default: 10)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text: uvicorn's lines; json: one JSON object a line, with room and user "
        "(default: text)",
    )
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
        from ws_lessons.chat.app import WORKERS_NEED_REDIS
        from ws_lessons.limits import Limits

        if args.workers < 1:
            parser.error("--workers must be 1 or more")
        if args.workers > 1 and args.redis is None:
            parser.error(WORKERS_NEED_REDIS)
        if args.grace < 0:
            parser.error("--grace must be 0 or more")
        if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
            parser.error("--ssl-certfile and --ssl-keyfile go together")
        chat.run(
            host=args.host,
            port=args.port,
            secret=os.environ.get(SECRET_VARIABLE) or None,
            allowed_origins=args.allowed_origins,
            history=args.history,
            redis=args.redis,
            workers=args.workers,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            max_size=args.max_size,
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
            rate=args.rate,
            burst=args.burst,
            max_connections=args.max_connections,
            keep_rooms=args.keep_rooms,
            max_rooms=args.max_rooms,
            limits=Limits(request_timeout=args.request_timeout, max_connections=args.max_clients),
            grace=args.grace,
            log_format=args.log_format,
        )
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
