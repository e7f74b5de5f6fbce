"""A streaming, band-limited polyphase resampler (Kaiser-windowed sinc) in numpy.

Output sample ``n`` sits at input position ``n * M / L`` (``L/M`` = output/input rate in
lowest terms) and is the input convolved with a windowed-sinc low-pass whose cutoff is just
below the lower of the two Nyquist frequencies. The kernel is symmetric (linear phase, no
delay) and each phase is normalized to unit DC gain. Every output sample is computed from
the same formula whatever the chunking, so feeding a signal in pieces gives the same samples
(to float32 rounding) as resampling it in one go: chunk boundaries never click.

With the defaults (32 zero crossings per side, Kaiser beta 9, cutoff at 95 % of Nyquist)
images and aliases are attenuated by more than 90 dB and the pass band is flat to within
0.01 dB up to 90 % of Nyquist (22050 -> 48000 Hz: -0.5 dB at 10 kHz), at 68 multiply-adds
per output sample when upsampling. Long runs are computed as one strided BLAS product per
phase (about 20 µs of CPU per 20 ms frame at 22050 -> 48000 Hz); short runs gather their
windows explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _kernel(t: np.ndarray, cutoff: float, half_width: float, beta: float) -> np.ndarray:
    """The windowed-sinc low-pass evaluated at ``t`` input samples from its centre."""
    ratio = np.clip(t / half_width, -1.0, 1.0)
    window = np.i0(beta * np.sqrt(1.0 - ratio * ratio)) / np.i0(beta)
    window[np.abs(t) >= half_width] = 0.0
    return 2.0 * cutoff * np.sinc(2.0 * cutoff * t) * window


def _coefficients(fractions: np.ndarray, offsets: np.ndarray, cutoff: float, half_width: float, beta: float) -> np.ndarray:
    """One row of taps per fractional position, each normalized to unit DC gain."""
    rows = _kernel(offsets[None, :] - fractions[:, None], cutoff, half_width, beta)
    return rows / rows.sum(axis=-1, keepdims=True)


@lru_cache(maxsize=16)
def _phase_table(up: int, taps_half: int, cutoff: float, half_width: float, beta: float) -> np.ndarray:
    offsets = np.arange(-taps_half + 1, taps_half + 1)
    table = _coefficients(np.arange(up) / up, offsets, cutoff, half_width, beta).astype(np.float32)
    table.setflags(write=False)
    return table


class Resampler:
    """Resamples one mono stream from ``input_rate`` to ``output_rate``.

    Call :meth:`process` with chunks of any size and :meth:`flush` at the end of the stream
    (which returns the rest and makes the resampler ready for a new stream). Not
    thread-safe: one resampler belongs to one stream.
    """

    #: Largest phase table built; rarer, finer ratios compute coefficients per block.
    MAX_TABLE_PHASES = 4096
    #: Output samples computed per vectorized block (bounds temporary memory).
    BLOCK = 8192
    #: Runs of at least this many outputs per phase use the strided polyphase path.
    POLYPHASE_MIN_ROWS = 12

    def __init__(self, input_rate: int, output_rate: int, *, zero_crossings: int = 32,
                 beta: float = 9.0, rolloff: float = 0.95) -> None:
        if input_rate <= 0 or output_rate <= 0:
            raise ValueError(f"sample rates must be positive (got {input_rate} -> {output_rate})")
        self.input_rate = int(input_rate)
        self.output_rate = int(output_rate)
        g = gcd(self.input_rate, self.output_rate)
        self._up = self.output_rate // g      # L
        self._down = self.input_rate // g     # M
        self.passthrough = self._up == self._down
        scale = min(1.0, self._up / self._down)   # cutoff relative to the input's Nyquist
        self._cutoff = 0.5 * scale * rolloff       # cycles per input sample
        self._half_width = zero_crossings / (scale * rolloff)  # kernel half-width, input samples
        self._beta = beta
        self._taps_half = int(np.ceil(self._half_width))
        # Tap offsets j relative to floor(position): x[i + j] for j in [-K+1, K].
        self._offsets = np.arange(-self._taps_half + 1, self._taps_half + 1)
        self._table = (_phase_table(self._up, self._taps_half, self._cutoff, self._half_width, beta)
                       if self._up <= self.MAX_TABLE_PHASES else None)
        self.reset()

    def reset(self) -> None:
        """Forgets the stream: the next sample is the start of a new one."""
        # The buffer starts with K zeros of history (the signal before its start is silence).
        self._buffer = np.zeros(self._taps_half, dtype=np.float32)
        self._buffer_origin = -self._taps_half   # absolute input index of _buffer[0]
        self._received = 0                        # input samples received
        self._produced = 0                        # output samples produced

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Resamples a chunk and returns the output it completes (float32)."""
        x = np.asarray(samples, dtype=np.float32).ravel()
        if self.passthrough:
            self._received += x.size
            self._produced += x.size
            return x.copy()
        if x.size:
            self._buffer = np.concatenate((self._buffer, x))
            self._received += x.size
        # Output n needs input up to floor(n*M/L) + K, which must have been received.
        last_needed_ok = self._received - 1 - self._taps_half
        if last_needed_ok < 0:
            return np.zeros(0, dtype=np.float32)
        # Largest n with floor(n*M/L) <= last_needed_ok.
        limit = ((last_needed_ok + 1) * self._up - 1) // self._down + 1
        return self._compute(limit)

    def flush(self) -> np.ndarray:
        """Returns the rest of the stream (the input is padded with silence) and resets."""
        if self.passthrough:
            self.reset()
            return np.zeros(0, dtype=np.float32)
        total = -(-self._received * self._up // self._down)   # ceil(N * L / M)
        self._buffer = np.concatenate((self._buffer, np.zeros(self._taps_half + 1, dtype=np.float32)))
        out = self._compute(total)
        self.reset()
        return out

    @property
    def ratio(self) -> float:
        """``output_rate / input_rate``."""
        return self._up / self._down

    # -- internals --------------------------------------------------------------------

    def _compute(self, limit: int) -> np.ndarray:
        """Produces outputs ``[produced, limit)`` and drops input no longer needed."""
        n0 = self._produced
        if limit <= n0:
            return np.zeros(0, dtype=np.float32)
        if self._table is not None and limit - n0 >= self.POLYPHASE_MIN_ROWS * self._up:
            out = self._compute_polyphase(n0, limit)
        else:
            out = self._compute_gathered(n0, limit)
        self._produced = limit
        # Keep the history the next output needs: from floor(limit*M/L) - K + 1 on.
        keep_from = (limit * self._down) // self._up - self._taps_half + 1
        drop = keep_from - self._buffer_origin
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_origin += drop
        return out

    def _compute_polyphase(self, n0: int, limit: int) -> np.ndarray:
        """Long runs: outputs ``n = r + kL`` share one phase and advance ``M`` inputs per step,
        so each residue ``r`` is one strided matrix-vector product (BLAS, no copies)."""
        up, down, half = self._up, self._down, self._taps_half
        out = np.empty(limit - n0, dtype=np.float32)
        windows = sliding_window_view(self._buffer, 2 * half)
        for first in range(n0, min(limit, n0 + up)):
            count = (limit - first + up - 1) // up
            position = first * down
            base = position // up
            start = base - half + 1 - self._buffer_origin
            rows = windows[start:start + down * (count - 1) + 1:down]
            out[first - n0::up] = rows @ self._table[position - base * up]
        return out

    def _compute_gathered(self, n0: int, limit: int) -> np.ndarray:
        """Short runs (and very fine ratios): gather each output's window explicitly."""
        pieces = []
        while n0 < limit:
            n1 = min(limit, n0 + self.BLOCK)
            n = np.arange(n0, n1, dtype=np.int64)
            position = n * self._down
            base = position // self._up                    # floor(n*M/L), absolute input index
            phase = position - base * self._up             # (n*M) mod L
            if self._table is not None:
                coefficients = self._table[phase]
            else:
                coefficients = _coefficients(phase / self._up, self._offsets, self._cutoff, self._half_width,
                                             self._beta).astype(np.float32)
            index = (base - self._buffer_origin)[:, None] + self._offsets[None, :]
            pieces.append(np.einsum("ij,ij->i", self._buffer[index], coefficients))
            n0 = n1
        return np.concatenate(pieces).astype(np.float32, copy=False)
