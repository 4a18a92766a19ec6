"""Postures, per-second posture series and spells: the vocabulary shared by every package."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Posture(IntEnum):
    """Per-second posture codes (int8 on disk and in arrays).

    ``UNKNOWN`` means no data for that second; ``NONWEAR`` means data from a sensor that is not on a
    thigh (lying still on a desk or charger). Neither ever counts as sitting.
    """

    UNKNOWN = 0
    NONWEAR = 1
    SITTING = 2
    STANDING = 3
    WALKING = 4
    LYING = 5
    CYCLING = 6

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Posture:
        try:
            return cls[label.strip().upper()]
        except KeyError:
            names = ", ".join(p.label for p in cls)
            raise ValueError(f"unknown posture {label!r}; expected one of {names}") from None


#: Postures that make up a sedentary spell (sitting or lying, as in the sedentary-behaviour literature).
SEDENTARY = frozenset({Posture.SITTING, Posture.LYING})
#: Postures that are upright (they can break a sedentary spell).
UPRIGHT = frozenset({Posture.STANDING, Posture.WALKING, Posture.CYCLING})

POSTURE_LABELS: tuple[str, ...] = tuple(p.label for p in Posture)


@dataclass(frozen=True, eq=False)
class PostureSeconds:
    """One posture code per whole UTC second, starting at ``start`` (integer epoch seconds).

    Second ``start + i`` covers the half-open interval [start + i, start + i + 1).
    """

    start: int
    codes: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", int(self.start))
        object.__setattr__(self, "codes", np.ascontiguousarray(self.codes, dtype=np.int8).reshape(-1))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def end(self) -> int:
        """First second after the series."""
        return self.start + len(self)

    @classmethod
    def empty(cls, start: int = 0) -> PostureSeconds:
        return cls(start, np.empty(0, np.int8))

    def seconds(self) -> np.ndarray:
        return np.arange(self.start, self.end, dtype=np.int64)

    @classmethod
    def concat(cls, parts: list[PostureSeconds]) -> PostureSeconds:
        """Join consecutive series; a hole between them is filled with ``UNKNOWN``."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        pieces: list[np.ndarray] = []
        cursor = parts[0].start
        for part in parts:
            if part.start < cursor:
                raise ValueError(f"posture series overlap at second {part.start} (expected >= {cursor})")
            if part.start > cursor:
                pieces.append(np.full(part.start - cursor, Posture.UNKNOWN, np.int8))
            pieces.append(part.codes)
            cursor = part.end
        return cls(parts[0].start, np.concatenate(pieces))

    def minutes_per_posture(self) -> dict[str, float]:
        counts = np.bincount(self.codes.astype(np.int64), minlength=len(Posture))
        return {p.label: counts[p] / 60.0 for p in Posture}

    def from_second(self, second: int | None) -> PostureSeconds:
        """The seconds at or after ``second`` (all of them for None): how the policy, the store and
        the pipeline skip seconds they have already seen."""
        if second is None or second <= self.start:
            return self
        skip = min(len(self), second - self.start)
        return PostureSeconds(self.start + skip, self.codes[skip:])

    def runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run-length encoding: (begins, ends, codes) of the runs of one posture, as arrays of epoch
        seconds (end exclusive) and codes. The one RLE: ``spells()`` and the store's spell rows."""
        if not len(self):
            empty = np.empty(0, np.int64)
            return empty, empty, np.empty(0, self.codes.dtype)
        change = np.flatnonzero(np.diff(self.codes)) + 1
        begins = np.concatenate(([0], change))
        ends = np.concatenate((change, [len(self)]))
        return begins + self.start, ends + self.start, self.codes[begins]

    def spells(self) -> list[Spell]:
        """Run-length encode into spells of constant posture."""
        if len(self) == 1:  # the live path's one second is one spell: numpy's fixed costs would dominate
            return [Spell(Posture(int(self.codes[0])), float(self.start), float(self.start + 1))]
        begins, ends, codes = self.runs()
        return [
            Spell(Posture(int(code)), float(begin), float(end))
            for begin, end, code in zip(begins, ends, codes, strict=True)
        ]


@dataclass(frozen=True)
class Spell:
    """A run of one posture from ``start`` to ``end`` (epoch seconds, end exclusive)."""

    posture: Posture
    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start
