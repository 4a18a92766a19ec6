"""Options several commands share, so each reads and is explained the same way everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path


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
