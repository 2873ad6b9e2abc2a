"""The course's command line: ``python -m ws_lessons doctor | bench | serve chat``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ws_lessons", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check this machine for the course and say what to fix")
    bench = commands.add_parser("bench", help="run the benchmarks (ratios against baselines)")
    bench.add_argument("suites", nargs="*", help="which benchmarks (default: all)")
    serve = commands.add_parser("serve", help="run an app of the course as a standalone server")
    serve.add_argument("app", choices=["chat"], help="which app")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    serve.add_argument("--secret", help="signs the tokens (default: random, per run)")
    serve.add_argument(
        "--allow-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="a browser origin allowed to connect, e.g. http://localhost:8000 (repeatable)",
    )
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from ws_lessons import doctor

        report = doctor.run()
        print(report)
        return 0 if report.healthy else 1
    if args.command == "serve":
        from ws_lessons import chat

        chat.run(
            host=args.host, port=args.port, secret=args.secret, allowed_origins=args.allowed_origins
        )
        return 0
    from ws_lessons import bench as benchmarks

    return benchmarks.main(args.suites)


if __name__ == "__main__":
    sys.exit(main())
