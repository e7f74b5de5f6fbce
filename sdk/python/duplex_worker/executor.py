"""The bounded thread pool blocking model code runs on (never the event loop).

Like Swift's ``BlockingExecutor``: a fixed number of threads (1 by default, since most
models are not thread-safe) fed from a priority queue, so urgent work (a reply's first
clause, or audio a listener is about to run out of) overtakes synthesis that is only ahead
of playback. Calls are awaited from the event loop; a call cancelled before it starts is
skipped, one cancelled while running finishes in its thread and its result is dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from typing import Any, Callable, List, Optional, Tuple

#: A listener is waiting for this work.
URGENT = 0
#: Work ahead of playback.
AHEAD = 1


class _Job:
    __slots__ = ("fn", "args", "future", "loop", "cancelled")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...], future: Optional[asyncio.Future],
                 loop: Optional[asyncio.AbstractEventLoop]) -> None:
        self.fn = fn
        self.args = args
        self.future = future
        self.loop = loop
        self.cancelled = False


class InferenceExecutor:
    """A priority thread pool; see the module docstring."""

    def __init__(self, threads: int = 1, name: str = "duplex-inference") -> None:
        self.threads = max(1, threads)
        self._queue: List[Tuple[int, int, Optional[_Job]]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._running = 0
        self._closed = False
        self._workers = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()

    @property
    def depth(self) -> int:
        """Calls waiting or running."""
        with self._condition:
            return len(self._queue) + self._running

    async def run(self, fn: Callable[..., Any], *args: Any, priority: int = URGENT) -> Any:
        """Runs ``fn(*args)`` on a pool thread and returns its result (or raises its error)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        job = _Job(fn, args, future, loop)
        with self._condition:
            if self._closed:
                raise RuntimeError("the inference executor is shut down")
            heapq.heappush(self._queue, (priority, next(self._order), job))
            self._condition.notify()
        try:
            return await future
        except asyncio.CancelledError:
            job.cancelled = True
            raise

    def post(self, fn: Callable[..., Any], *args: Any, priority: int = AHEAD) -> None:
        """Queues ``fn(*args)`` without waiting for it (errors are ignored)."""
        with self._condition:
            if self._closed:
                return
            heapq.heappush(self._queue, (priority, next(self._order), _Job(fn, args, None, None)))
            self._condition.notify()

    def shutdown(self, wait: bool = False) -> None:
        """Stops the threads once the queued calls are done."""
        with self._condition:
            if self._closed:
                return
            self._closed = True
            for _ in self._workers:
                heapq.heappush(self._queue, (1 << 30, next(self._order), None))
            self._condition.notify_all()
        if wait:
            for worker in self._workers:
                worker.join()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._queue:
                    self._condition.wait()
                _, _, job = heapq.heappop(self._queue)
                if job is None:
                    return
                if job.cancelled:
                    continue
                self._running += 1
            try:
                result, error = job.fn(*job.args), None
            except BaseException as exc:  # delivered to the awaiting coroutine
                result, error = None, exc
            finally:
                with self._condition:
                    self._running -= 1
            if job.future is not None and not job.cancelled:
                try:
                    job.loop.call_soon_threadsafe(_settle, job.future, result, error)
                except RuntimeError:
                    pass  # the loop is closed: nobody waits any more


def _settle(future: asyncio.Future, result: Any, error: Optional[BaseException]) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
