"""The sitless application: CLI, configuration, SQLite store and the wiring of the daemon.

Only this package imports from all of ``firmware_bridge``, ``analysis`` and ``alerts``.
"""

__version__ = "0.1.0"
