"""The course's command line: ``python -m ws_lessons doctor | bench``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ws_lessons", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check this machine for the course and say what to fix")
    bench = commands.add_parser("bench", help="run the benchmarks (ratios against baselines)")
    bench.add_argument("suites", nargs="*", help="which benchmarks (default: all)")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from ws_lessons import doctor

        report = doctor.run()
        print(report)
        return 0 if report.healthy else 1
    from ws_lessons import bench as benchmarks

    return benchmarks.main(args.suites)


if __name__ == "__main__":
    sys.exit(main())
