"""PAUSE / RESUME / STOP state of one synthesis (port of Swift ``PlaybackGate``).

A state machine ``running <-> paused -> stopped`` (``stopped`` is final), shared by the
emitter, which passes it before every frame, and the Control RPC, which flips it. Everything
runs on the worker's event loop, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Callable, List


class Passage(enum.Enum):
    """What the emitter should do with its next frame."""

    PROCEED = "proceed"    #: emit it
    RESUMED = "resumed"    #: emit it; playback was paused in between (re-anchor pacing)
    STOPPED = "stopped"    #: end the synthesis


class PlaybackGate:
    """See the module docstring."""

    def __init__(self) -> None:
        self._state = "running"
        self._resumed = asyncio.Event()
        self._stop_handlers: List[Callable[[], None]] = []

    @property
    def is_paused(self) -> bool:
        return self._state == "paused"

    @property
    def is_stopped(self) -> bool:
        return self._state == "stopped"

    def pause(self) -> bool:
        """Pauses playback; False if already stopped."""
        if self._state == "stopped":
            return False
        if self._state == "running":
            self._state = "paused"
            self._resumed.clear()
        return True

    def resume(self) -> bool:
        """Resumes playback; False if already stopped."""
        if self._state == "stopped":
            return False
        if self._state == "paused":
            self._state = "running"
            self._resumed.set()
        return True

    def stop(self) -> None:
        """Stops for good; wakes a paused emitter and runs the stop handlers once."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        self._resumed.set()
        handlers, self._stop_handlers = self._stop_handlers, []
        for handler in handlers:
            handler()

    def on_stop(self, handler: Callable[[], None]) -> None:
        """Registers work to do on :meth:`stop` (runs at once if already stopped)."""
        if self._state == "stopped":
            handler()
        else:
            self._stop_handlers.append(handler)

    def passage_now(self) -> Passage | None:
        """The passage without waiting: None while paused."""
        if self._state == "running":
            return Passage.PROCEED
        if self._state == "stopped":
            return Passage.STOPPED
        return None

    async def pass_(self) -> Passage:
        """Returns at once while running; waits while paused."""
        immediate = self.passage_now()
        if immediate is not None:
            return immediate
        while self._state == "paused":
            await self._resumed.wait()
        return Passage.STOPPED if self._state == "stopped" else Passage.RESUMED
