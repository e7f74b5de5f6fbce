"""A bounded async queue that its producer can close, with or without an error.

The pipeline's stages talk through these (Swift ``AsyncBoundedQueue``): the consumer's
``get`` returns items in order, then ``None`` once the channel is closed and drained, or
raises the error it was closed with.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Deque, Generic, Optional, TypeVar

T = TypeVar("T")


class ChannelClosed(Exception):
    """Raised by :meth:`Channel.put` into a closed channel."""


class Channel(Generic[T]):
    """See the module docstring. Single event loop; one producer and one consumer."""

    def __init__(self, capacity: int = 0) -> None:
        self.capacity = capacity  # 0: unbounded
        self._items: Deque[T] = collections.deque()
        self._closed = False
        self._error: Optional[BaseException] = None
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    async def put(self, item: T) -> None:
        """Appends an item, waiting while the channel is full."""
        while self.capacity and len(self._items) >= self.capacity and not self._closed:
            self._writable.clear()
            await self._writable.wait()
        if self._closed:
            raise ChannelClosed()
        self._items.append(item)
        self._readable.set()

    def close(self, error: Optional[BaseException] = None) -> None:
        """Closes the channel. With an error, the consumer gets it at once (items still
        queued are dropped); without, it drains the queue first."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        if error is not None:
            self._items.clear()
        self._readable.set()
        self._writable.set()

    async def get(self) -> Optional[T]:
        """The next item; None once closed and drained; raises the close error."""
        while True:
            if self._error is not None:
                raise self._error
            if self._items:
                item = self._items.popleft()
                self._writable.set()
                return item
            if self._closed:
                return None
            self._readable.clear()
            await self._readable.wait()
