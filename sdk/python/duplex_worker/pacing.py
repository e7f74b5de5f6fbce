"""Real-time pacing of frames on a monotonic clock (port of ``Sources/DuplexDSP/Pacer.swift``)."""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional


class Pacer:
    """Schedules frame emission at real-time pace, without drift.

    Frame *n* of a run is due at ``anchor + (n - lead) * interval``: the first ``lead``
    frames go out at once (to fill the client's jitter buffer), then one per interval.
    Deadlines are absolute, so scheduling error never accumulates. When emission falls
    behind by more than the lead (an underrun) the schedule restarts at the current time;
    after a pause call :meth:`reanchor` so the next frame starts a fresh schedule.

    Late frames: a listener that started playing at the anchor plays frame *n* ``lead``
    intervals after its deadline; a frame handed out later arrived after the listener's buffer
    ran dry, and is counted in ``late_frames`` (worst lateness in ``max_lateness``, seconds).
    """

    def __init__(self, interval: float, lead: int, clock: Callable[[], float] = time.monotonic) -> None:
        if lead < 0:
            raise ValueError("lead must be >= 0")
        self.interval = interval
        self.lead = lead
        self.clock = clock
        self._anchor: Optional[float] = None
        self._since_anchor = 0
        self.late_frames = 0
        self.max_lateness = 0.0

    def next_deadline(self, now: float) -> float:
        """Returns the next frame's deadline given the current time, and advances."""
        if self._anchor is None:
            self._anchor = now
            self._since_anchor = 0
        deadline = self._anchor + self.interval * (self._since_anchor - self.lead)
        plays_at = deadline + self.interval * max(self.lead, 1)
        if now > plays_at:
            self.late_frames += 1
            self.max_lateness = max(self.max_lateness, now - plays_at)
            self._anchor = now
            self._since_anchor = 0
            deadline = now - self.interval * self.lead
        self._since_anchor += 1
        return deadline

    async def wait_for_next_frame(self) -> None:
        """Sleeps until the next frame is due."""
        deadline = self.next_deadline(self.clock())
        delay = deadline - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def reanchor(self) -> None:
        """Restarts the schedule at the next frame (after a pause)."""
        self._anchor = None
