"""``crystalbench <step>``: the command line each Snakemake rule calls (one small module each).

The crystal pipeline's steps and the force (S2EF) pipeline's ``s2ef-*`` steps; benchmarks
have their own command, ``crystalbench-bench``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from crystalbench import __version__
from crystalbench.crystal.cli import add_crystal_commands
from crystalbench.forces.cli import add_force_commands


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crystalbench", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"crystalbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    add_crystal_commands(sub)
    add_force_commands(sub)
    s = sub.add_parser("status", help="one line per training job: epoch, loss, held-out "
                       "score, time per epoch, ETA (from each run's progress.json)")
    s.add_argument("results", nargs="?", default="results", help="folder to search")
    s.set_defaults(func=cmd_status)
    return p


def cmd_status(args: argparse.Namespace) -> None:
    from crystalbench.core.live_status import status_lines

    lines = status_lines(args.results)
    print("\n".join(lines) if lines else f"no training job has reported under {args.results}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args.func(args)


if __name__ == "__main__":
    main()

