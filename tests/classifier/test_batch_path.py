"""The whole-recording path (``sitless classify``): faster ways to the same labels, never other labels.

``feed_all`` reads and sums on a second thread, ``second_rows`` works in cache-sized blocks, and chunks
a reader has checked are not checked again; each is compared here with the plain path it replaces.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitless.analysis import classify as classify_module
from sitless.analysis import features as F
from sitless.analysis.classify import StreamingClassifier, classify
from sitless.analysis.postures import PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings import RecordingError, iter_recording, write_recording
from sitless.overlap import ahead

from .conftest import simulated
from .test_streaming import RECORDING, SETTINGS


def _feed_one_by_one(chunks) -> tuple[np.ndarray, int, int]:
    classifier = StreamingClassifier(SETTINGS)
    parts = [classifier.feed(chunk) for chunk in chunks]
    parts.append(classifier.flush())
    series = PostureSeconds.concat(parts)
    return series.codes, series.start, classifier.dropped_samples


@pytest.mark.parametrize("batch_seconds", [7, 50, classify_module.LABEL_BATCH_S])
def test_feed_all_gives_the_labels_of_feeding_chunk_by_chunk(batch_seconds, monkeypatch):
    """Gaps, lost packets, a desk spell and a re-mount (the streaming test's recording), cut unevenly and
    labelled in batches of seconds that span several chunks or end inside one."""
    monkeypatch.setattr(classify_module, "LABEL_BATCH_S", batch_seconds)
    cuts, position, sizes = [], 0, [997, 13, 4000, 1, 250]
    while position < len(RECORDING):
        size = sizes[len(cuts) % len(sizes)]
        cuts.append(RECORDING.slice(position, position + size))
        position += size
    counted = []
    classifier = StreamingClassifier(SETTINGS)
    series = classifier.feed_all(cuts, counted.append, ahead)
    codes, start, dropped = _feed_one_by_one(cuts)
    assert series.start == start
    np.testing.assert_array_equal(series.codes, codes)
    assert sum(counted) == len(RECORDING)  # every sample, in batches of seconds (not per chunk)
    assert classifier.dropped_samples == dropped


def test_feed_all_drops_what_feed_drops():
    part = RECORDING.slice(0, 6000)
    t, xyz = part.t.copy(), part.xyz.copy()
    t[2500:2510] -= 5.0  # a reordered burst
    xyz[4000] = np.nan
    bad = SampleChunk(t, xyz)
    chunks = bad.split(700)
    classifier = StreamingClassifier(SETTINGS)
    series = classifier.feed_all(chunks, ahead=ahead)
    codes, start, dropped = _feed_one_by_one(chunks)
    np.testing.assert_array_equal(series.codes, codes)
    assert classifier.dropped_samples == dropped > 0


def test_feed_all_of_an_npz_read_into_reused_buffers_gives_the_labels_of_classify(tmp_path):
    """As ``sitless classify`` runs it: read ahead on one thread into three sets of buffers used in
    turn, summed on another, labelled on this one."""
    day = simulated(hours=1.0, rate_hz=25.0, seed=5).samples
    path = tmp_path / "day.npz"
    write_recording(path, day)
    plain = classify(day)
    for buffers, read_ahead in ((True, 0), (3, 1)):
        chunks = iter_recording(path, 4096, reuse_buffers=buffers)
        chunks = ahead(chunks, read_ahead) if read_ahead else chunks
        series = StreamingClassifier().feed_all(chunks, ahead=ahead)
        assert series.start == plain.start
        np.testing.assert_array_equal(series.codes, plain.codes)


def test_a_chunk_read_into_buffers_used_in_turn_stays_valid_until_that_many_more_are_read(tmp_path):
    day = simulated(hours=0.25, rate_hz=25.0, seed=5).samples
    path = tmp_path / "day.npz"
    write_recording(path, day)
    chunks = iter_recording(path, 1000, reuse_buffers=3)
    held = [next(chunks) for _ in range(3)]
    np.testing.assert_array_equal(np.concatenate([chunk.t for chunk in held]), day.t[:3000])
    next(chunks)  # the fourth is read into the first one's buffers
    np.testing.assert_array_equal(held[0].t, day.t[3000:4000])


def test_a_bad_sample_stops_feed_all_with_the_readers_error(tmp_path):
    day = simulated(hours=0.5, rate_hz=25.0, seed=5).samples
    t = day.t.copy()
    t[30_000] = np.nan
    path = tmp_path / "bad.npz"
    np.savez(path, t=t, xyz=day.xyz)
    with pytest.raises(RecordingError, match="sample 30000 is not finite"):
        StreamingClassifier().feed_all(iter_recording(path, 4096, reuse_buffers=True), ahead=ahead)
    assert not [thread for thread in threading.enumerate() if thread.name == "sitless-ahead"]


# ---- overlap.ahead ---------------------------------------------------------------------------------
def test_ahead_gives_every_item_in_order_then_the_producers_error():
    def produce():
        yield from range(50)
        raise ValueError("item 50 is broken")

    seen = []
    with pytest.raises(ValueError, match="item 50 is broken"):
        for item in ahead(produce()):
            seen.append(item)
    assert seen == list(range(50))


def test_a_consumer_that_stops_early_stops_and_closes_the_producer():
    closed = threading.Event()
    produced = []

    def produce():
        try:
            for i in range(1_000_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = ahead(produce(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert closed.is_set()
    assert len(produced) <= 3 + 2 + 1  # the items taken, the slots, and the one being put
    assert not [thread for thread in threading.enumerate() if thread.name == "sitless-ahead"]


# ---- second_rows in blocks ---------------------------------------------------------------------------
def _rows_one_second_at_a_time(t: np.ndarray, xyz: np.ndarray, first: int, stop: int) -> np.ndarray:
    rows = np.zeros((stop - first, F.N_COLUMNS))
    seconds = np.floor(t).astype(np.int64)
    bounds = [0, *(np.flatnonzero(np.diff(seconds)) + 1).tolist(), len(t)]
    for begin, end in zip(bounds, bounds[1:], strict=False):
        second = int(seconds[begin])
        rows[second - first] = F.second_rows(t[begin:end], xyz[begin:end], second, second + 1)[0]
    return rows


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([12.5, 50.0, 400.0, 1600.0]), st.booleans())
def test_rows_summed_in_blocks_are_the_rows_of_each_second_alone(seed, rate_hz, shuffle_within_seconds):
    """Seconds on both sides of every block boundary, gaps, and any order of samples within a second
    (the accumulator keeps such samples: only their second must not go back)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(F.BLOCK_SAMPLES // 2, 3 * F.BLOCK_SAMPLES))
    t = 1_000.0 + np.cumsum(rng.exponential(1.0 / rate_hz, n))
    t[n // 3 :] += 7.0  # a gap
    xyz = (rng.normal(0.0, 1.5, (n, 3)) * rng.choice([0.01, 1.0, 6.0])).astype(np.float32)
    if shuffle_within_seconds:
        order = np.lexsort((rng.random(n), np.floor(t)))
        t, xyz = t[order], xyz[order]
    first, stop = int(np.floor(t[0])), int(np.floor(t[-1])) + 1
    blocked = F.second_rows(t, xyz, first, stop, F.Scratch())
    np.testing.assert_array_equal(blocked, _rows_one_second_at_a_time(t, xyz, first, stop))


def test_blocks_without_and_with_empty_seconds_are_summed_alike():
    """A block whose every second has samples is written as one slice of rows; one with empty seconds
    row by row: both give each second's own row, and the empty seconds stay zero."""
    rng = np.random.default_rng(7)
    dense_t = 500.0 + np.arange(3 * F.BLOCK_SAMPLES) / 50.0  # every second has 50 samples
    after = int(dense_t[-1]) + 10  # the sparse seconds come after the dense ones
    sparse_t = np.concatenate([s + np.sort(rng.uniform(0.0, 1.0, 40)) for s in range(after, after + 9000, 3)])
    for t in (dense_t, sparse_t, np.concatenate([dense_t, sparse_t])):
        xyz = rng.normal(0.0, 2.0, (len(t), 3)).astype(np.float32)
        first, stop = int(np.floor(t[0])), int(np.floor(t[-1])) + 1
        rows = F.second_rows(t, xyz, first, stop, F.Scratch())
        np.testing.assert_array_equal(rows, _rows_one_second_at_a_time(t, xyz, first, stop))
    assert not rows[np.floor(sparse_t[0]).astype(int) - first + 1].any()  # an empty second


def test_a_second_longer_than_a_block_is_summed_whole():
    rng = np.random.default_rng(1)
    n = F.BLOCK_SAMPLES + 5000
    t = np.concatenate([np.full(10, 99.5), 100.0 + np.sort(rng.uniform(0.0, 0.99, n)), [101.2, 102.7]])
    xyz = rng.normal(0.0, 1.0, (len(t), 3)).astype(np.float32)
    rows = F.second_rows(t, xyz, 99, 103, F.Scratch())
    np.testing.assert_array_equal(rows, _rows_one_second_at_a_time(t, xyz, 99, 103))
    assert rows[1, F.N] == n


# ---- checked once ---------------------------------------------------------------------------------
def test_the_npz_reader_marks_its_chunks_checked_and_the_rows_are_the_same(tmp_path):
    day = simulated(hours=0.5, rate_hz=25.0, seed=2).samples
    path = tmp_path / "day.npz"
    write_recording(path, day)
    chunks = list(iter_recording(path, 5000))
    assert all(chunk.checked for chunk in chunks)
    assert chunks[0].slice(10, 20).checked and not SampleChunk(day.t, day.xyz).checked
    trusted, tested = F.SecondAccumulator(), F.SecondAccumulator()
    for chunk in chunks:
        a_first, a_rows = trusted.push(chunk)
        b_first, b_rows = tested.push(SampleChunk(chunk.t, chunk.xyz))
        assert a_first == b_first
        np.testing.assert_array_equal(a_rows, b_rows)


def test_a_recording_that_fails_half_way_leaves_no_postures_file(tmp_path, private_data_dir, capsys):
    """The rows are written while the recording is classified, but land at --out only at the end."""
    from sitless.cli import main

    day = simulated(hours=0.5, rate_hz=25.0, seed=5).samples
    t = day.t.copy()
    t[30_000] = np.nan
    path = tmp_path / "bad.npz"
    np.savez(path, t=t, xyz=day.xyz)
    out = tmp_path / "out" / "postures.csv"
    out.parent.mkdir()
    assert main(["classify", str(path), "--out", str(out)]) == 2
    assert "sample 30000 is not finite" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []
    assert not [thread for thread in threading.enumerate() if thread.name == "sitless-ahead"]
