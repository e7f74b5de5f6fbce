"""Helpers for testing workers and clients: a deterministic test-tone model and a worker
running on a background thread (so synchronous gRPC clients can talk to it)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Iterator, Optional

import numpy as np

from .config import WorkerConfig
from .model import AudioChunk, Model
from .options import VoiceOptions
from .worker import Models, Worker


class SineModel(Model):
    """A 440 Hz test tone (Swift ``SineAdapter``): each segment becomes a tone about 90 ms
    per word long at speed 1, amplitude 0.5, with 5 ms fades. Deterministic.

    Args:
        sample_rate: the rate it produces (48000 needs no resampling).
        chunk_ms: yield the tone in chunks of this length (0: one chunk), to exercise streaming.
        delay: seconds each chunk "takes" to compute (blocks the calling pool thread).
        fail_on: raise RuntimeError when the text contains this string.
    """

    family = "sine"
    languages = ("*",)
    tags = ("cpu_ok", "diagnostic")

    def __init__(self, model_id: str = "sine-440", *, sample_rate: int = 48_000, chunk_ms: int = 0,
                 delay: float = 0.0, fail_on: Optional[str] = None, **kwargs) -> None:
        kwargs.setdefault("display_name", "440 Hz test tone")
        super().__init__(model_id, sample_rate=sample_rate, **kwargs)
        self.chunk_ms = chunk_ms
        self.delay = delay
        self.fail_on = fail_on
        self.loads = 0
        self.unloads = 0
        self.calls = 0

    def load(self) -> None:
        self.loads += 1

    def unload(self) -> None:
        self.unloads += 1

    def synthesize(self, text: str, options: VoiceOptions) -> Iterator[AudioChunk]:
        self.calls += 1
        if self.fail_on and self.fail_on in text:
            raise RuntimeError(f"test failure on {self.fail_on!r}")
        rate = self.sample_rate
        words = max(1, len(text.split()))
        count = int(words * 0.09 / options.speed * rate)
        fade = rate // 200
        i = np.arange(count)
        tone = 0.5 * np.sin(2 * np.pi * 440 / rate * i)
        edge = np.minimum(i, count - 1 - i)
        tone = np.where(edge < fade, tone * edge / fade, tone).astype(np.float32)
        step = count if self.chunk_ms <= 0 else max(1, rate * self.chunk_ms // 1000)
        for start in range(0, count, step):
            if self.delay:
                time.sleep(self.delay)
            yield tone[start:start + step], rate


class WorkerThread:
    """Runs a :class:`Worker` on its own event loop in a daemon thread.

    ::

        with WorkerThread([SineModel()], WorkerConfig(port=0)) as worker:
            channel = grpc.insecure_channel(f"127.0.0.1:{worker.port}")
    """

    def __init__(self, models: Models, config: Optional[WorkerConfig] = None, wait_ready: bool = True, **kwargs) -> None:
        self.worker = Worker(models, config or WorkerConfig(port=0), **kwargs)
        self._wait_ready = wait_ready
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="duplex-worker-loop", daemon=True)

    @property
    def port(self) -> int:
        return self.worker.port

    @property
    def service(self):
        return self.worker.service

    def call(self, coroutine, timeout: float = 10.0):
        """Runs a coroutine on the worker's loop and returns its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> "WorkerThread":
        self._thread.start()
        self.call(self.worker.start())
        if self._wait_ready:
            deadline = time.monotonic() + 30
            while not self.worker.service.ready:
                if self.worker.failure is not None:
                    raise RuntimeError(f"worker failed: {self.worker.failure}")
                if time.monotonic() > deadline:
                    raise TimeoutError("worker not ready")
                time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.call(self.worker.stop(), timeout=15)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()

    def __enter__(self) -> "WorkerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
