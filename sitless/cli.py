"""The ``sitless`` command line: discovers subcommands in ``sitless.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from sitless import __version__, commands
from sitless.errors import UserError

DESCRIPTION = """\
sitless watches a BLE accelerometer on your thigh, knows when you sit, and tells your phone (over
MQTT) when a sitting spell is too long, with a stretch for your hip flexors and glutes.

Start with `sitless demo`: a simulated workday through the real pipeline, no hardware needed.
"""

EPILOG = """\
examples:
  sitless demo                                  a simulated 8-hour day, prompts through a private broker
  sitless simulate --hours 8 --out day.csv      make a recording to play with
  sitless classify day.csv --out postures.csv   second-by-second postures from a recording
  sitless scan                                  find sensors nearby
  sitless run --device C0:FF:EE:00:00:01        the daemon, with a real sensor
  sitless report --last                         last week's sitting report

Run `sitless COMMAND --help` for each command's options.
"""


class CommandError(UserError):
    """A user-facing failure: printed as one line on stderr, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitless",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sitless {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output: -v debug lines of sitless, -vv also of the libraries (paho, bleak, asyncio)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"sitless.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def configure_logging(verbose: int) -> None:
    """Info lines by default (prompts, connections, what to do next); ``-v`` adds sitless's debug
    lines; ``-vv`` also the libraries' debug output."""
    logging.basicConfig(
        level=logging.DEBUG if verbose >= 2 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbose >= 1:
        logging.getLogger("sitless").setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"sitless {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `sitless sensors | head`: the reader left; say nothing more (as coreutils do).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
