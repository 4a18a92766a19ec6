"""Which decoder fits a sensor: by configured family name, or by what its advertisement shows.

``FAMILIES`` maps the ``family`` key of the ``[sensor]`` config table (and ``sitless record --family``)
to the decoder class. ``recognise`` guesses the family from a scan result; ``make_decoder`` builds one
with a clear error for an unknown family or option.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from sitless.firmware_bridge.decoders.base import SensorDecoder
from sitless.firmware_bridge.decoders.generic import GenericDecoder, GenericProfile
from sitless.firmware_bridge.decoders.metamotion import MetaMotionDecoder
from sitless.firmware_bridge.decoders.microbit import MicrobitDecoder
from sitless.firmware_bridge.decoders.movesense import MovesenseDecoder
from sitless.firmware_bridge.decoders.polar import PolarH10Decoder, PolarVeritySenseDecoder
from sitless.firmware_bridge.decoders.thingy import ThingyDecoder
from sitless.firmware_bridge.decoders.witmotion import WitMotionDecoder

# Order matters for ``recognise``: name-based families first (most specific), then service UUIDs.
FAMILIES: dict[str, type[SensorDecoder]] = {
    cls.family: cls
    for cls in (
        PolarH10Decoder,
        PolarVeritySenseDecoder,
        MovesenseDecoder,
        WitMotionDecoder,
        MicrobitDecoder,
        MetaMotionDecoder,
        ThingyDecoder,
        GenericDecoder,
    )
}


def recognise(
    name: str | None,
    service_uuids: Sequence[str],
    manufacturer_data: Mapping[int, bytes],
    generic: GenericProfile | None = None,
) -> type[SensorDecoder] | None:
    """The decoder class whose family this advertisement looks like, or None.

    ``generic``: a ``GenericProfile`` from the config; a device advertising its service UUID (or whose
    name starts with its ``name_prefix``) is then recognised as ``generic``.
    """
    generic_cls: Any = FAMILIES.get("generic")
    if (
        generic is not None
        and generic_cls is not None
        and generic_cls.matches_profile(generic, name, service_uuids)
    ):
        return generic_cls
    for family, cls in FAMILIES.items():
        if family == "generic":
            continue
        if cls.recognises(name, service_uuids, manufacturer_data or {}):
            return cls
    return None


def make_decoder(family: str, rate_hz: float | None = None, **options: Any) -> SensorDecoder:
    """Build the decoder for ``family`` at ``rate_hz`` (snapped to the sensor's nearest rate).

    Raises ``ValueError`` naming the known families or the accepted options.
    """
    cls = FAMILIES.get(str(family).strip().lower().replace("-", "_"))
    if cls is None:
        raise ValueError(f"unknown sensor family {family!r}; known families: {', '.join(sorted(FAMILIES))}")
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "rate_hz")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"sensor family {cls.family!r} has no option {', '.join(map(repr, unknown))}; "
            f"options: {', '.join(accepted) or 'none'}"
        )
    return cls(rate_hz, **options)
