"""One module per ``sitless`` subcommand.

Each module defines ``register(subparsers)`` which adds its parser and sets ``func`` to a callable
taking the parsed ``argparse.Namespace`` and returning an exit code. ``sitless.cli`` discovers the
modules, so adding a command means adding a module here and nothing else.
"""
