"""Sans-I/O decoders, one per sensor family (see ``base.SensorDecoder``; ``registry`` picks one)."""

from sitless.firmware_bridge.decoders.base import Command, DecoderStats, ProtocolError, SensorDecoder
from sitless.firmware_bridge.decoders.events import (
    CommandRefused,
    Event,
    Gap,
    Notice,
    Samples,
    StreamStopped,
    Temperature,
)

__all__ = ["Command", "CommandRefused", "DecoderStats", "Event", "Gap", "Notice", "ProtocolError", "Samples"]
__all__ += ["SensorDecoder", "StreamStopped", "Temperature"]
