"""Sans-I/O decoders, one per sensor family (see ``base.SensorDecoder``; ``registry`` picks one)."""

from sitless.firmware_bridge.decoders.base import (
    Command,
    CommandRejected,
    DecoderStats,
    ProtocolError,
    SensorDecoder,
)

__all__ = ["Command", "CommandRejected", "DecoderStats", "ProtocolError", "SensorDecoder"]
