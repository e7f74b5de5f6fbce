"""Live statistics of a worker (port of Swift ``WorkerStats``)."""

from __future__ import annotations

import collections
from typing import Deque, Iterable

#: Samples the medians cover.
WINDOW = 200


class WorkerStats:
    """Running syntheses and the recent first-audio latencies and real-time factors."""

    def __init__(self) -> None:
        #: Synthesize streams running right now.
        self.active_syntheses = 0
        #: Synthesize streams started since the worker started.
        self.syntheses_total = 0
        self._first_audio_ms: Deque[float] = collections.deque(maxlen=WINDOW)
        self._real_time_factors: Deque[float] = collections.deque(maxlen=WINDOW)

    def synthesis_started(self) -> None:
        self.active_syntheses += 1
        self.syntheses_total += 1

    def synthesis_ended(self, first_audio_seconds: float | None, real_time_factors: Iterable[float]) -> None:
        self.active_syntheses -= 1
        if first_audio_seconds is not None:
            self._first_audio_ms.append(first_audio_seconds * 1000.0)
        self._real_time_factors.extend(real_time_factors)

    @property
    def first_audio_p50_ms(self) -> float:
        """Median first-audio latency (ms) over the last 200 syntheses; 0 if none."""
        return median(self._first_audio_ms)

    @property
    def rtf_p50(self) -> float:
        """Median real-time factor over the last 200 segments; 0 if none."""
        return median(self._real_time_factors)


def median(values: Iterable[float]) -> float:
    """The upper median (Swift ``WorkerStats.median``), 0 for no values."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0
