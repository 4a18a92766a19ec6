"""Per-second thigh posture: one streaming classifier for live BLE packets and whole recordings alike.

Pipeline (each stage sees whole seconds only, so the cut of the input never matters):

1. ``features.SecondAccumulator``: exact per-second sums of x, y, z, their squares, |a|, |a|^2 and max |a|.
2. ``labeller.SecondLabeller``: the second's mean gravity direction, and over a 2-s window (s-1, s) the
   total SD (rotation invariant) and the largest |a| (heel strikes); rules in Acti4's spirit decide a raw
   label, using the wearer's orientation reference learned from earlier seconds only, and
   ``nonwear.NonwearDetector`` decides whether the sensor is on a body at all.
3. ``_ModeSmoother``: the label of s is the most common raw label of s-2 .. s+1 (Acti4 removes bouts
   shorter than its minimum bout lengths with median filters; this is the streaming equivalent). It waits
   for one later second, so a second is final when the first sample two seconds after its start arrives
   (a posture change is reported 2 to 3 s after it happens).

See docs/classifier.md for the rules, their precedents and what cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from sitless.analysis.calibration import Calibration
from sitless.analysis.features import N_COLUMNS, SecondAccumulator
from sitless.analysis.labeller import SecondLabeller
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.analysis.settings import ClassifierSettings

__all__ = ["ClassifierSettings", "StreamingClassifier", "classify"]

#: The smoother votes over raw labels s-LOOKBACK_S .. s+LOOKAHEAD_S and waits for the later ones.
LOOKBACK_S = 2
LOOKAHEAD_S = 1
_ABSENT = len(Posture)  # padding code that never votes
_Sums = tuple[int, np.ndarray, int]  # first second, its rows of sums, samples of the chunks
#: Seconds labelled per call in ``feed_all``: the labeller's numpy calls cost the same for 1,000 rows as
#: for 5,000 (0.60 s against 0.39 s a week), and more than ~20,000 rows fall out of the cache.
LABEL_BATCH_S = 4096


class StreamingClassifier:
    """Feed chunks of any size (1 sample to a day); get back the seconds that became final.

    The output is contiguous: the first emitted second is floor(first timestamp); seconds without
    samples are ``UNKNOWN``. Labels do not depend on how the input was chunked.
    """

    def __init__(self, settings: ClassifierSettings | None = None, calibration: Calibration | None = None):
        settings = settings if settings is not None else ClassifierSettings()
        self.settings = settings
        self._accumulator = SecondAccumulator()
        self._labeller = SecondLabeller(settings, calibration)
        self._smoother = _ModeSmoother()
        self._nothing = PostureSeconds.empty()  # reused empty result (frozen)

    @property
    def dropped_samples(self) -> int:
        """Samples dropped because they went back in time to an already completed second."""
        return self._accumulator.dropped

    @property
    def reference_up(self) -> np.ndarray | None:
        """The upright reference in use (unit vector, sensor frame), or None if not learned yet."""
        return self._labeller.current_up()

    def feed_temperature(self, timestamps: np.ndarray, celsius: np.ndarray) -> None:
        """Optional evidence of wear: the sensor's temperature (epoch seconds, deg C), from sensors that
        report it (Movesense, MetaMotion, Thingy:52, micro:bit). A still sensor colder than skin
        (``skin_min_celsius``) is off the body within seconds; one at skin temperature is worn however
        still it is. A reading counts for the seconds labelled after it was fed (feed it with the
        samples of the same time, as decoders emit them; live and offline then agree). Without
        readings the classifier waits for long stillness instead (docs/classifier.md, non-wear)."""
        self._labeller.temperature.add(timestamps, celsius)

    def feed(self, chunk: SampleChunk) -> PostureSeconds:
        first, sums = self._accumulator.push(chunk)
        if not len(sums):  # most BLE packets complete no second: nothing to do
            start = self._smoother.next_second(first)
            if self._nothing.start != start:
                self._nothing = PostureSeconds.empty(start)
            return self._nothing
        if len(sums) == 1:  # the live path: one second completed, labelled and smoothed in plain Python
            return self._smoother.push_second(first, self._labeller.label_second(first, sums[0].tolist()))
        return self._smoother.push(first, self._labeller.label(first, sums))

    def feed_all(
        self,
        chunks: Iterable[SampleChunk],
        progress: Callable[[int], None] | None = None,
        ahead: Callable[[Iterator[_Sums]], Iterable[_Sums]] | None = None,
        emitted: Callable[[PostureSeconds], None] | None = None,
    ) -> PostureSeconds:
        """Feed every chunk, then flush: the labels ``feed`` and ``flush`` give.

        In two stages: reading and summing each chunk per second, then labelling those seconds. Each
        stage keeps its own state and only the rows pass between them, in order, so ``ahead`` (from the
        application, e.g. ``sitless.overlap.ahead``) may run the first stage on another thread, a chunk
        ahead of the second: two cores then share the work. ``progress`` gets each chunk's sample count
        once its seconds are labelled, ``emitted`` each part of the result as it becomes final (to write
        it while the next is summed). Chunks may reuse their buffers: the rows are new arrays."""
        sums_of = self._sums_of(chunks)
        parts: list[PostureSeconds] = []
        for first, sums, samples in sums_of if ahead is None else ahead(sums_of):
            if len(sums):
                parts.append(self._smoother.push(first, self._labeller.label(first, sums)))
                if emitted is not None:
                    emitted(parts[-1])
            if progress is not None:
                progress(samples)
        parts.append(self.flush())
        if emitted is not None:
            emitted(parts[-1])
        return PostureSeconds.concat(parts)

    def _sums_of(self, chunks: Iterable[SampleChunk]) -> Iterator[_Sums]:
        """Rows in batches of at least ``LABEL_BATCH_S`` seconds (consecutive pushes give consecutive
        seconds), whatever the chunks' size: small chunks stay in the processor's cache while they are
        checked and summed, and the labeller's cost per call is spread over many seconds."""
        first, batch, seconds, samples = 0, [], 0, 0
        for chunk in chunks:
            pushed_first, sums = self._accumulator.push(chunk)
            samples += len(chunk)
            if len(sums):
                if not batch:
                    first = pushed_first
                batch.append(sums)
                seconds += len(sums)
            if seconds >= LABEL_BATCH_S:
                yield first, _joined(batch), samples
                batch, seconds, samples = [], 0, 0
        if batch or samples:
            yield first, _joined(batch), samples

    def flush(self) -> PostureSeconds:
        first, sums = self._accumulator.flush()
        emitted = self._smoother.push(first, self._labeller.label(first, sums))
        return PostureSeconds.concat([emitted, self._smoother.flush()])


def classify(
    samples: SampleChunk | Iterable[SampleChunk],
    settings: ClassifierSettings | None = None,
    calibration: Calibration | None = None,
    *,
    chunk_samples: int = 360_000,
) -> PostureSeconds:
    """Classify a whole recording by feeding the streaming classifier (the one implementation)."""
    classifier = StreamingClassifier(settings, calibration)
    chunks = [samples] if isinstance(samples, SampleChunk) else samples
    parts: list[PostureSeconds] = []
    for chunk in chunks:
        for i in range(0, len(chunk), chunk_samples):
            parts.append(classifier.feed(chunk.slice(i, i + chunk_samples)))
    parts.append(classifier.flush())
    return PostureSeconds.concat(parts)


def _joined(rows: list[np.ndarray]) -> np.ndarray:
    if len(rows) == 1:
        return rows[0]
    return np.concatenate(rows) if rows else np.zeros((0, N_COLUMNS))


class _ModeSmoother:
    """Label of s = most common raw label in s-2 .. s+1; ties keep the raw label of s (so a one-second
    blip is removed and a change is confirmed by one later second, reported about 2 s after it happened).
    One exception: a ``cycling`` second alone in its window (every vote a different label) is not kept
    by the tie but takes the label of the next second with data (s+1, else s-1, else s-2). Pedalling is
    periodic and a ride lasts; one second at a saddle's angle with no other cycling around it is the
    thigh turning through that angle as its wearer stands up or sits down. With data all around, the
    sitting seconds before a stand-up outvote it anyway; after a BLE drop they are missing, and the
    stand-up's "cycling" second reached the phone.

    ``UNKNOWN`` (no samples) never votes and is never replaced: a second without data stays unknown and a
    second with data never becomes unknown. The few labels carried between calls are plain ints, which
    the live path's one second at a time (``push_second``) uses as they are.
    """

    def __init__(self) -> None:
        self._history: list[int] = [_ABSENT] * LOOKBACK_S  # raw labels of the seconds before
        self._pending: list[int] = []  # raw labels not yet final
        self._next: int | None = None  # first second not yet emitted

    def push(self, first: int, raw: np.ndarray) -> PostureSeconds:
        if self._next is None:
            if not len(raw):
                return PostureSeconds.empty(first)
            self._next = first
        labels = np.concatenate([np.array(self._pending, np.int8), raw])
        ready = len(labels) - LOOKAHEAD_S
        if ready <= 0:
            self._pending = labels.tolist()
            return PostureSeconds.empty(self._next)
        return self._emit(ready, labels)

    def push_second(self, first: int, raw: int) -> PostureSeconds:
        """``push`` of one second's raw label: the same vote on the same labels, without arrays."""
        if self._next is None:
            self._next = first
        pending = self._pending
        pending.append(raw)
        ready = len(pending) - LOOKAHEAD_S
        if ready <= 0:
            return PostureSeconds.empty(self._next)
        smoothed = _vote_values(self._history + pending, ready)
        self._history = (self._history + pending[:ready])[-LOOKBACK_S:]
        self._pending = pending[ready:]
        start = self._next
        self._next = start + ready
        return PostureSeconds(start, np.array(smoothed, np.int8))

    def next_second(self, default: int) -> int:
        return default if self._next is None else self._next

    def flush(self) -> PostureSeconds:
        if self._next is None:
            return PostureSeconds.empty()
        pending = np.array(self._pending, np.int8)
        padded = np.concatenate([pending, np.full(LOOKAHEAD_S, _ABSENT, np.int8)])
        emitted = self._emit(len(pending), padded)
        self._pending = []
        return emitted

    def _emit(self, ready: int, labels: np.ndarray) -> PostureSeconds:
        window = np.concatenate([np.array(self._history, np.int8), labels[: ready + LOOKAHEAD_S]])
        smoothed = self._vote_few(window, ready) if ready <= 16 else self._vote_many(window, labels, ready)
        self._history = (self._history + labels[max(ready - LOOKBACK_S, 0) : ready].tolist())[-LOOKBACK_S:]
        self._pending = labels[ready:].tolist()
        start = self._next
        self._next = start + ready
        return PostureSeconds(start, smoothed)

    @staticmethod
    def _vote_few(window: np.ndarray, ready: int) -> np.ndarray:
        """The same vote in plain Python: cheaper than numpy for the live path's one second at a time."""
        return np.array(_vote_values(window.tolist(), ready), np.int8)

    @staticmethod
    def _vote_many(window: np.ndarray, labels: np.ndarray, ready: int) -> np.ndarray:
        """The vote over a batch: a few comparisons of shifted windows (a week's 604,800 seconds in
        milliseconds), or the counting vote when a raw label is the padding code (never in use)."""
        raw = labels[:ready]
        if LOOKBACK_S != 2 or LOOKAHEAD_S != 1 or (raw == _ABSENT).any():
            return _ModeSmoother._vote_counting(window, labels, ready)
        # Window a, b, raw, d. raw keeps the second unless it stands alone and two of a, b, d agree
        # (such a pair is the only label with more votes: three labels hold at most one pair).
        a, b, d = window[:ready], window[1 : ready + 1], window[3 : ready + 3]
        alone = (a != raw) & (b != raw) & (d != raw) & (raw != Posture.UNKNOWN)
        votes_a = (a != Posture.UNKNOWN) & (a != _ABSENT)
        votes_b = (b != Posture.UNKNOWN) & (b != _ABSENT)
        pair_a = votes_a & ((a == b) | (a == d))
        pair_b = votes_b & (b == d)
        smoothed = raw.copy()
        np.copyto(smoothed, b, where=alone & pair_b)
        np.copyto(smoothed, a, where=alone & pair_a)
        # A lone cycling second (no pair either): the next second with data's label, d, else b, else a.
        votes_d = (d != Posture.UNKNOWN) & (d != _ABSENT)
        lone_cycling = alone & ~pair_a & ~pair_b & (raw == Posture.CYCLING)
        np.copyto(smoothed, a, where=lone_cycling & votes_a)
        np.copyto(smoothed, b, where=lone_cycling & votes_b)
        np.copyto(smoothed, d, where=lone_cycling & votes_d)
        return smoothed

    @staticmethod
    def _vote_counting(window: np.ndarray, labels: np.ndarray, ready: int) -> np.ndarray:
        votes = np.zeros((len(window) + 1, _ABSENT + 1), np.int32)
        votes[np.arange(1, len(window) + 1), window] = 1
        np.cumsum(votes, axis=0, out=votes)
        span = LOOKBACK_S + LOOKAHEAD_S + 1
        counts = votes[span : span + ready] - votes[:ready]
        counts[:, Posture.UNKNOWN] = 0
        counts[:, _ABSENT] = 0
        raw = labels[:ready]
        own = counts[np.arange(ready), raw.astype(np.int64)]
        best = counts.argmax(axis=1)
        top = counts.max(axis=1)
        smoothed = np.where(own >= top, raw, best).astype(np.int8)
        # A lone cycling second: the next second with data's label (s+1, then s-1, s-2, ...).
        lone_cycling = (own == 1) & (top == 1) & (raw == Posture.CYCLING)
        # Written farthest-preferred first, so the preferred neighbour with data is written last: s-2,
        # s-1, then s+1 (``LOOKAHEAD_S`` down to 1, so s+1 ends up last).
        for offset in [*range(-LOOKBACK_S, 0), *range(LOOKAHEAD_S, 0, -1)]:
            other = window[LOOKBACK_S + offset : LOOKBACK_S + offset + ready]
            votes = (other != Posture.UNKNOWN) & (other != _ABSENT)
            np.copyto(smoothed, other, where=lone_cycling & votes)
        smoothed[raw == Posture.UNKNOWN] = Posture.UNKNOWN
        return smoothed


_UNKNOWN_CODE = int(Posture.UNKNOWN)
_CYCLING_CODE = int(Posture.CYCLING)


def _vote_values(values: list[int], ready: int) -> list[int]:
    """The vote of ``_ModeSmoother`` on plain ints: ``values`` are the raw labels of s-2 .. s+1 for
    each of the ``ready`` seconds, in a row."""
    span = LOOKBACK_S + LOOKAHEAD_S + 1
    out = []
    for i in range(ready):
        raw = values[i + LOOKBACK_S]
        if raw == _UNKNOWN_CODE:
            out.append(raw)
            continue
        counts = [0] * (_ABSENT + 1)
        for value in values[i : i + span]:
            counts[value] += 1
        counts[_UNKNOWN_CODE] = counts[_ABSENT] = 0
        top = max(counts)
        if top == 1 and raw == _CYCLING_CODE:  # a lone cycling second: the next second with data's label
            s = i + LOOKBACK_S
            for other in (values[s + 1], values[s - 1], values[s - 2]):
                if other != _UNKNOWN_CODE and other != _ABSENT:
                    raw = other
                    break
        out.append(raw if counts[raw] >= top else counts.index(top))
    return out
