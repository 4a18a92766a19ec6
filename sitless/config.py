"""Configuration: one TOML file, one table per concern, typed by the package that owns it.

The owning packages declare plain dataclasses with defaults (``alerts`` its ``[alerts]`` settings, and so
on); this module reads the file and builds them, so a typo or a wrong type is reported with the file,
the table and the key, before the daemon starts. Precedent: Cargo and pip report unknown keys rather
than ignore them, because a silently ignored ``sit_limit_mins`` is a setting the user thinks they have.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sitless.analysis.setting_ranges import field_ranges

T = TypeVar("T")
log = logging.getLogger(__name__)


def default_config_path() -> Path:
    if env := os.environ.get("SITLESS_CONFIG"):
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "sitless" / "config.toml"


def default_data_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "sitless"


#: The tables sitless reads. A mistyped one (``[alert]``) would otherwise be ignored without a word.
KNOWN_TABLES = ("sensor", "alerts", "mqtt", "store", "report", "classifier", "notify", "calendar")


class ConfigError(Exception):
    """The configuration file is unreadable or a value in it is wrong; the message says where."""


@dataclass
class Config:
    """The parsed file: raw tables plus where they came from (for error messages)."""

    tables: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def origin(self) -> str:
        return str(self.path) if self.path else "built-in defaults"

    def section(self, name: str, cls: type[T]) -> T:
        """Build the dataclass ``cls`` from table ``[name]``; missing keys keep their defaults."""
        table = self.tables.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{self.origin}: [{name}] must be a table, got {type(table).__name__}")
        return build_section(cls, table, where=f"{self.origin}: [{name}]")


def load_config(path: Path | str | None = None, *, required: bool = False) -> Config:
    """Read the TOML file at ``path`` (or the default path).

    A missing default file is not an error (sitless runs on defaults); a missing file the user named is.
    """
    from_environment = path is None and bool(os.environ.get("SITLESS_CONFIG"))
    explicit = path is not None or from_environment  # a file the user named, either way, must exist
    config_path = Path(path) if path is not None else default_config_path()
    if not config_path.exists():
        if explicit or required:
            origin = " (from SITLESS_CONFIG)" if from_environment else ""
            raise ConfigError(f"config file {config_path}{origin} does not exist")
        return Config()
    import tomllib  # here: without a config file (the usual `sitless classify`) it is not needed

    try:
        with config_path.open("rb") as handle:
            tables = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise ConfigError(f"{config_path}: nested too deeply to be a sitless config (arrays or tables inside each other hundreds of levels deep)") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{config_path}: not UTF-8 text (byte {error.start}); TOML files are UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(f"{config_path}: cannot read: {error.strerror}") from None
    for name, value in tables.items():
        if name not in KNOWN_TABLES:
            known = ", ".join(f"[{t}]" for t in KNOWN_TABLES)
            raise ConfigError(f"{config_path}: unknown table [{name}] (known tables: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"{config_path}: {name} must be a table [{name}], got {type(value).__name__}")
    _warn_if_password_readable(config_path, tables)
    return Config(tables=tables, path=config_path)


def _warn_if_password_readable(path: Path, tables: dict[str, Any]) -> None:
    """A password in a file other users can read is a leaked password: say so (as ssh does for keys)."""
    mqtt = tables.get("mqtt")
    if not (isinstance(mqtt, dict) and mqtt.get("password")):
        return
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o044:
        log.warning(
            "%s holds the MQTT password and other users can read it (mode %03o): run `chmod 600 %s`, "
            "or move the password to SITLESS_MQTT_PASSWORD",
            path, mode, path,
        )  # fmt: skip


def build_section(cls: type[T], table: dict[str, Any], *, where: str) -> T:
    """Check each key of ``table`` against the fields of dataclass ``cls`` and build it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    ranges = field_ranges(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key {key!r} (known keys: {known})")
        allowed = ranges.get(key)
        try:
            values[key] = _coerce(value, hints[key], where=f"{where} {key}")
        except ConfigError as error:
            raise ConfigError(f"{error} (allowed: {allowed.describe()})" if allowed else str(error)) from None
        problem = allowed.problem(values[key]) if allowed else None
        if problem:
            raise ConfigError(f"{where} {key} = {value!r}: {problem}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _coerce(value: Any, hint: Any, *, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where=where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (inner, *_rest) = typing.get_args(hint) or (Any,)
        items = [_coerce(v, inner, where=where) for v in value]
        return tuple(items) if origin is tuple else items
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is Path and isinstance(value, str):
        return Path(value).expanduser()
    if isinstance(hint, type) and not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        name = getattr(hint, "__name__", str(hint))
        raise ConfigError(f"{where}: expected {name}, got {value!r}")
    return value
