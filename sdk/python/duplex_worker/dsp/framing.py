"""The output format (20 ms frames of 48 kHz mono s16le) and the conversions into it."""

from __future__ import annotations

from typing import List

import numpy as np

#: Samples per second of all output audio.
SAMPLE_RATE = 48_000
#: Duration of one frame in milliseconds.
FRAME_MS = 20
#: Samples in one frame (960).
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
#: Bytes in one frame (1920).
FRAME_BYTES = SAMPLES_PER_FRAME * 2
#: A sample counts as silence below this level (-50 dBFS), as in Swift ``SilenceTrim``.
SILENCE_THRESHOLD = 0.003

_LITTLE_ENDIAN_INT16 = np.dtype("<i2")


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to little-endian int16 (rounded, clipped at full scale)."""
    scaled = np.rint(np.asarray(samples, dtype=np.float32) * np.float32(32767.0))
    return np.clip(scaled, -32768, 32767).astype(_LITTLE_ENDIAN_INT16)


class FrameAssembler:
    """Cuts a stream of int16 samples into 1920-byte frames; :meth:`flush` pads the last
    partial frame with silence (every data frame the worker sends is full-size)."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=_LITTLE_ENDIAN_INT16)

    def append(self, samples: np.ndarray) -> List[bytes]:
        """Adds samples; returns the frames they complete."""
        data = np.concatenate((self._pending, samples)) if self._pending.size else np.asarray(samples, dtype=_LITTLE_ENDIAN_INT16)
        whole = data.size // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
        self._pending = data[whole:].copy()
        if not whole:
            return []
        raw = data[:whole].tobytes()
        return [raw[i:i + FRAME_BYTES] for i in range(0, len(raw), FRAME_BYTES)]

    def flush(self) -> List[bytes]:
        """Returns the last partial frame padded with silence (or nothing)."""
        if not self._pending.size:
            return []
        frame = np.zeros(SAMPLES_PER_FRAME, dtype=_LITTLE_ENDIAN_INT16)
        frame[: self._pending.size] = self._pending
        self._pending = self._pending[:0]
        return [frame.tobytes()]


class EdgeTrimmer:
    """Streaming version of Swift ``SilenceTrim`` for one segment.

    A segment cut mid-sentence (for fast first audio) joins the next one without the silence
    the voice pads each utterance with, so the cut is not heard as a pause: leading silence
    of a segment that continues a sentence is trimmed to ``keep_start`` samples, and trailing
    silence of a segment that ends mid-sentence to ``keep_end`` samples. Trailing silence is
    held back until it is known whether more sound follows.
    """

    def __init__(self, trim_start: bool, trim_end: bool, keep_start: int, keep_end: int) -> None:
        self._trim_start = trim_start
        self._trim_end = trim_end
        self._keep_start = keep_start
        self._keep_end = keep_end
        self._head: List[np.ndarray] = []   # leading silence while no sound came yet
        self._sound_seen = False
        self._tail = np.zeros(0, dtype=np.float32)  # trailing silence held back

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Adds samples; returns those that can be played now."""
        loud = np.nonzero(np.abs(samples) > SILENCE_THRESHOLD)[0]
        if not self._sound_seen:
            if loud.size == 0:
                self._head.append(samples)
                return samples[:0]
            self._sound_seen = True
            head = np.concatenate(self._head + [samples[: loud[0]]]) if self._head or loud[0] else samples[:0]
            self._head = []
            if self._trim_start:
                head = head[max(0, head.size - self._keep_start):]
            samples = np.concatenate((head, samples[loud[0]:]))
            loud = loud - loud[0] + head.size
        elif loud.size == 0:
            self._tail = np.concatenate((self._tail, samples))
            return samples[:0]
        cut = loud[-1] + 1
        out = np.concatenate((self._tail, samples[:cut])) if self._tail.size else samples[:cut]
        self._tail = samples[cut:]
        return out

    def finish(self) -> np.ndarray:
        """Returns what is left at the end of the segment."""
        if not self._sound_seen:
            # All silence: nothing is trimmed (Swift trims only around sound).
            rest = np.concatenate(self._head) if self._head else np.zeros(0, dtype=np.float32)
            self._head = []
            return rest
        tail = self._tail[: self._keep_end] if self._trim_end else self._tail
        self._tail = np.zeros(0, dtype=np.float32)
        return tail
