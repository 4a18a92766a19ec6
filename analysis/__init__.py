"""The functional core of sitless: pure computation on arrays.

Nothing in this package performs I/O or imports ``firmware_bridge``, ``alerts`` or ``sitless``;
those packages depend on it, never the other way round (see docs/architecture.md).
"""

from sitless.analysis.postures import SEDENTARY, Posture, PostureSeconds, Spell
from sitless.analysis.samples import SampleChunk

__all__ = ["SEDENTARY", "Posture", "PostureSeconds", "SampleChunk", "Spell"]
