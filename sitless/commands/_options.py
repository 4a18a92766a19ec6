"""Options several commands share, so each reads and is explained the same way everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from sitless.cli import CommandError


def refuse_overwriting(outputs: dict[str, Path | str | None], inputs: dict[str, Path | str | None]) -> None:
    """Stop before an output would replace an input (``--out day.csv`` on ``day.csv``, ``--html`` on the
    store): that would destroy recorded health data without a word."""
    from sitless.firmware_bridge.private_files import same_file

    named_inputs = [(name, path) for name, path in inputs.items() if path is not None]
    seen: list[tuple[str, Path | str]] = []
    for name, path in outputs.items():
        if path is None or str(path) == "-":
            continue
        for other_name, other in named_inputs + seen:
            if same_file(path, other):
                raise CommandError(
                    f"{name} {path} is the same file as {other_name}; refusing to overwrite it"
                )
        seen.append((name, path))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the TOML config file (default: $SITLESS_CONFIG or ~/.config/sitless/config.toml)",
    )


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        type=Path,
        metavar="DB",
        help="the SQLite store (default: [store] path, or ~/.local/share/sitless/sitless.db)",
    )


def add_broker_option(parser: argparse.ArgumentParser, purpose: str = "") -> None:
    """``purpose`` says what the broker is for in this command; the URL forms are the same everywhere."""
    parser.add_argument(
        "--broker",
        metavar="URL",
        help=f"{purpose + ': ' if purpose else ''}mqtt://host:port or mqtts://host:port (default: [mqtt] url); "
        "credentials come from the config file or the environment, never from here",
    )


def parse_speed(text: str) -> float:
    """``--speed``: data seconds per wall second, or ``max``."""
    import math

    if text.strip().lower() in ("max", "inf", "fast"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise CommandError(
            f"--speed {text!r}: expected a number (1 = real time, 60 = a minute per second) or max"
        ) from None
    if not value > 0 or math.isinf(value) or math.isnan(value):
        raise CommandError(f"--speed {text!r}: must be a positive number or max")
    return value
