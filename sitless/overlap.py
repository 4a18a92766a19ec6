"""Run a producer one step ahead of its consumer on a second thread, so that two cores share the work.

Why it helps: NumPy releases the GIL inside its loops over large arrays, and so does a file read, so
the thread that reads a recording and sums its next chunk per second runs while the calling thread
labels the seconds of the previous chunk (``StreamingClassifier.feed_all(..., ahead=ahead)``). The
order of the items is the producer's, so the result is a plain loop's; only the waiting overlaps.
Threads are the application's business: the core (``sitless.analysis``) has none.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of ``items`` in order, produced on a worker thread up to ``depth`` items ahead.

    An exception raised by the producer is raised here, in the consumer, after the items before it. When
    the consumer stops early (``break``, an exception, ``close``), the producer is stopped before its
    next item and closed on its own thread (a generator cannot be closed from another thread while it
    runs), and this returns only when the worker has ended.
    """
    slots: queue.Queue = queue.Queue(max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not _put(slots, item, stop):
                    return
            _put(slots, _DONE, stop)
        except BaseException as error:  # handed to the consumer, who raises it
            _put(slots, _Failure(error), stop)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="sitless-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # empty the slots so that a producer waiting to put sees the stop
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()


def _put(slots: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; False if the consumer stopped first."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
