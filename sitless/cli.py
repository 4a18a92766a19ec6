"""The ``sitless`` command line: discovers subcommands in ``sitless.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
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


#: One line per command for ``sitless --help``. The top-level help and each command's own parser need
#: not import every command (numpy, scipy, bleak, paho: about 0.9 s); a command missing here is imported
#: to get its line, so adding a command module still works without touching this file, and
#: tests/test_cli.py checks that these lines are each module's own ``help``.
SUMMARIES = {
    "calibrate": "record your upright reference (stand still 5 s)",
    "classify": "per-second postures from a recording",
    "convert": "a device's recording (.cwa, .gt3x, .bin, ActiLife CSV) as sitless CSV or NPZ",
    "demo": "a simulated workday through the whole pipeline (no hardware)",
    "notify": "send prompts to push services and the desktop (apprise), as an MQTT subscriber",
    "record": "record a real sensor to a CSV/NPZ file",
    "replay": "play a recording through the pipeline (prompts, store, MQTT)",
    "report": "the weekly sitting report (terminal, JSON, HTML, PNG, MQTT)",
    "run": "the daemon: sensor to prompts on your phone",
    "scan": "find BLE sensors nearby and recognise their model",
    "sensors": "list the supported sensor families and what each needs",
    "simulate": "make a simulated thigh recording with its true postures",
}


class CommandError(UserError):
    """A user-facing failure: printed as one line on stderr, exit code 2, no traceback."""


def command_names() -> list[str]:
    """The modules of ``sitless.commands`` (one per subcommand), without importing them."""
    names = set()
    for folder in commands.__path__:
        for entry in os.listdir(folder):
            stem, dot, suffix = entry.partition(".")
            if dot and suffix == "py" and not stem.startswith("_"):
                names.add(stem)
    return sorted(names)


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(only: str | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole parser; with ``lazy``, only ``only`` (if any) is imported and the other commands get a
    placeholder with their summary line (enough for ``sitless --help`` and for choosing a command)."""
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
    names = command_names()
    if lazy and only in names:
        names = [only]  # the others are not needed to run or explain this one (each parser costs ~5 ms)
    for name in names:
        if lazy and name != only and name in SUMMARIES:
            subparsers.add_parser(name, help=SUMMARIES[name], add_help=False)
            continue
        module = importlib.import_module(f"sitless.commands.{name}")
        module.register(subparsers)
    return parser


def configure_logging(verbose: int) -> None:
    """Info lines by default (prompts, connections, what to do next); ``-v`` adds sitless's debug
    lines; ``-vv`` also the libraries' debug output."""
    import logging  # here, not at the top: `sitless --help` does not need it

    logging.basicConfig(
        level=logging.DEBUG if verbose >= 2 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbose >= 1:
        logging.getLogger("sitless").setLevel(logging.DEBUG)


#: sitless does no linear algebra worth BLAS threads, and OpenBLAS starts one per core when numpy is
#: imported (a third of numpy's import time here). A user's own setting wins.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(*BLAS_THREADS)  # before any command imports numpy
    as_program = argv is None  # the command line itself, not a caller in this process (tests, scripts)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(argv), lazy=True)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
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
    if as_program and getattr(args, "exit_at_once", False):
        exit_at_once(code)
    return code


def exit_at_once(code: int) -> None:
    """End the process now, without the interpreter's teardown (freeing every module and object: 35 ms
    after `sitless classify`, whose user waits for the prompt). Only for a command that has closed
    everything it wrote and left no threads or pools behind (it says so with ``args.exit_at_once``):
    ``os._exit`` runs no ``atexit`` handlers and flushes nothing, so the logs and both standard
    streams are flushed here."""
    import logging

    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `sitless classify ... --summary | head`: as main does
        code = code or 141
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
