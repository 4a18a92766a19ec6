"""Sans-I/O decoders, one per sensor family (see ``base.SensorDecoder``)."""

from firmware_bridge.decoders.base import Command, DecoderStats, ProtocolError, SensorDecoder

__all__ = ["Command", "DecoderStats", "ProtocolError", "SensorDecoder"]
