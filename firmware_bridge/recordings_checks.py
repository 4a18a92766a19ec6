"""Checks every recording reader makes on its blocks: a fast test that passes good data in one or two
cheap passes, and the bounds that keep a hostile file from taking all memory.

The fast test only says "fine" or "look closer": when it fails, the reader runs its precise (slower)
pass over that block only, to name the sample or line and the reason. So a good week costs one pass
over the timestamps and one sum over the accelerations, and a bad row still gets its line number.
"""

from __future__ import annotations

import numpy as np

from sitless.firmware_bridge.recordings_timestamps import EARLIEST_T, LATEST_T

#: No supported sensor samples faster than 1.7 kHz (Movesense's top rate); more than this many samples
#: within one second are timestamps that are not per sample (a batch stamped once, a clock that stopped).
#: Unchecked, a 467 KB NPZ of 20 M samples at one timestamp took 1.9 GB and became one second of
#: "sitting" (issue 13). The classifier keeps one second's samples at a time, so this bounds its memory.
MAX_SAMPLES_PER_SECOND = 5000

#: The longest CSV line read as a line (bytes). A row is under 100 bytes; a longer "line" is not a
#: recording's (a 2 GB file of zeros, a binary file renamed .csv) and is refused without reading it whole.
MAX_LINE_BYTES = 4096

#: At most this many characters of a bad line or field are quoted in an error message.
QUOTE_CHARS = 40


def quote(text: str | bytes, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of at most ``limit`` characters of ``text`` (its escapes cut too), marked when cut."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text[: limit * 4]).decode("utf-8", errors="replace")
    shown = repr(text[:limit])
    if len(shown) > limit + 2:
        shown = shown[: limit + 1] + shown[0]
    return shown if len(text) <= limit else f"{shown}..."


def block_looks_fine(t: np.ndarray, xyz: np.ndarray, last_t: float) -> bool:
    """True when a block certainly is good: timestamps non-decreasing from ``last_t``, between 2000 and
    2100, accelerations finite. False means "run the precise pass", not "bad".

    One comparison pass over ``t`` (NaN fails every comparison, so it fails here too; the first and last
    timestamps then bound all the others) and one float32 sum over ``xyz`` (a NaN or infinity anywhere
    makes the sum non-finite; a sum that overflows sends a good block to the precise pass, never a bad
    one through).
    """
    if not len(t):
        return True
    if not (t[0] >= last_t and t[0] >= EARLIEST_T and t[-1] < LATEST_T):
        return False
    if len(t) > 1 and not np.greater_equal(t[1:], t[:-1]).all():
        return False
    return bool(np.isfinite(xyz.sum()))


class SamplesPerSecondGuard:
    """Counts samples per whole second across blocks; says where a second holds too many.

    Fast test: if some second held more than ``limit`` samples, two timestamps ``limit // 2`` samples
    apart would lie less than 1 s apart, so a strided look at every ``limit // 2``-th timestamp finds
    every such block (and, rarely, a block of a fast but legal stream, which the exact count then clears).
    """

    def __init__(self, limit: int = MAX_SAMPLES_PER_SECOND) -> None:
        self.limit = limit
        self.second = None  # the last whole second seen and how many samples it has had
        self.count = 0

    def excess(self, t: np.ndarray) -> np.ndarray | None:
        """Indices into ``t`` (sorted) of samples beyond the limit in their second, or None when none.

        Call once per block, in order; the count of a second continues across blocks.
        """
        if not len(t):
            return None
        first_second = float(np.floor(t[0]))
        carried = self.count if first_second == self.second else 0
        stride = max(1, self.limit // 2)
        dense = carried + np.searchsorted(t, first_second + 1.0) > self.limit or (
            len(t) > stride and bool((np.diff(t[::stride]) < 1.0).any())
        )
        last_second = float(np.floor(t[-1]))
        if not dense:
            self.count = (
                (carried if last_second == first_second else 0)
                + len(t)
                - int(np.searchsorted(t, last_second))
            )
            self.second = last_second
            return None
        seconds = np.floor(t)
        starts = np.flatnonzero(np.concatenate(([True], seconds[1:] != seconds[:-1])))
        position = np.arange(len(t)) - np.repeat(starts, np.diff(np.append(starts, len(t))))
        position[: starts[1] if len(starts) > 1 else len(t)] += carried
        over = np.flatnonzero(position >= self.limit)
        self.second = last_second
        self.count = min(int(position[-1]) + 1, self.limit)
        return over if len(over) else None
