"""Integrated loudness (ITU-R BS.1770-4 / EBU R128) and the normalizer that uses it.

A port of ``Sources/DuplexDSP/LoudnessMeter.swift``: K-weighting (the two BS.1770 biquads
for 48 kHz), 400 ms blocks with 75 % overlap, absolute gate at -70 LUFS, relative gate at
-10 LU; signals shorter than one block are measured ungated.

numpy has no IIR filter, so the K-weighting cascade is applied as an FFT convolution with its
impulse response, computed once by running the biquads and truncated where it has decayed
below 1e-12 (both poles lie well inside the unit circle), which is exact to float precision.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import numpy as np

_SHELF = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (-1.69065929318241, 0.73248077421585))
_HIGH_PASS = ((1.0, -2.0, 1.0), (-1.99004745483398, 0.99007225036621))
_IMPULSE_LENGTH = 16384


@lru_cache(maxsize=1)
def _k_weighting_impulse() -> np.ndarray:
    """Impulse response of the K-weighting cascade (shelf, then high-pass)."""
    response = np.zeros(_IMPULSE_LENGTH)
    states = [[0.0, 0.0], [0.0, 0.0]]
    for n in range(_IMPULSE_LENGTH):
        v = 1.0 if n == 0 else 0.0
        for (b, a), z in zip((_SHELF, _HIGH_PASS), states):
            # Transposed direct form II, as in the Swift Biquad.
            y = b[0] * v + z[0]
            z[0] = b[1] * v - a[0] * y + z[1]
            z[1] = b[2] * v - a[1] * y
            v = y
        response[n] = v
    nonzero = np.nonzero(np.abs(response) > 1e-12)[0]
    return response[: nonzero[-1] + 1]


def k_weight(samples: np.ndarray) -> np.ndarray:
    """K-weights mono 48 kHz samples (float64 result, same length)."""
    x = np.asarray(samples, dtype=np.float64)
    h = _k_weighting_impulse()
    size = 1 << int(math.ceil(math.log2(max(1, x.size + h.size - 1))))
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: x.size]


def _loudness(mean_square: float) -> Optional[float]:
    return -0.691 + 10.0 * math.log10(mean_square) if mean_square > 0 else None


def integrated_loudness(samples: np.ndarray, sample_rate: int = 48_000) -> Optional[float]:
    """Integrated loudness of mono float samples at 48 kHz in LUFS, or None for silence."""
    if sample_rate != 48_000:
        raise ValueError("K-weighting coefficients are for 48 kHz")
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        return None
    weighted = k_weight(x)
    block = sample_rate * 400 // 1000
    hop = block // 4
    if weighted.size < block:
        return _loudness(float(np.mean(weighted * weighted)))
    cumulative = np.concatenate(([0.0], np.cumsum(weighted * weighted)))
    starts = np.arange(0, weighted.size - block + 1, hop)
    blocks = (cumulative[starts + block] - cumulative[starts]) / block
    # Absolute gate: -70 LUFS, i.e. mean square above 10^((-70 + 0.691) / 10).
    absolute = blocks[blocks > 10.0 ** ((-70.0 + 0.691) / 10.0)]
    if absolute.size == 0:
        return None
    threshold = _loudness(float(absolute.mean()))
    if threshold is None:
        return None
    relative = absolute[absolute > 10.0 ** ((threshold - 10.0 + 0.691) / 10.0)]
    if relative.size == 0:
        return None
    return _loudness(float(relative.mean()))


def rms_dbfs(samples: np.ndarray) -> Optional[float]:
    """RMS level in dBFS (a full-scale square wave is 0 dBFS), or None for silence."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        return None
    ms = float(np.mean(x * x))
    return 10.0 * math.log10(ms) if ms > 0 else None


_KNEE = np.float32(0.891)  # -1 dBFS


def soft_limit(samples: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Applies ``gain`` with a soft knee above -1 dBFS so peaks never clip: magnitudes above
    the knee become ``knee + (1 - knee) * tanh((|v| - knee) / (1 - knee))`` (float32)."""
    v = np.asarray(samples, dtype=np.float32) * np.float32(gain)
    magnitude = np.abs(v)
    over = magnitude > _KNEE
    if over.any():
        limited = _KNEE + (1 - _KNEE) * np.tanh((magnitude[over] - _KNEE) / (1 - _KNEE))
        v[over] = np.copysign(limited, v[over])
    return v


class LoudnessNormalizer:
    """Computes the fixed gain that brings a voice to a loudness target.

    Args:
        mode: ``lufs`` (BS.1770 integrated loudness), ``rms`` (dBFS) or ``off`` (gain 1).
        target: the target level, -16 LUFS by default.
        max_gain_db: the largest gain applied (keeps near-silence from being blown up).
    """

    def __init__(self, mode: str = "lufs", target: float = -16.0, max_gain_db: float = 20.0) -> None:
        if mode not in ("lufs", "rms", "off"):
            raise ValueError(f"loudness mode must be lufs, rms or off (got {mode!r})")
        self.mode = mode
        self.target = target
        self.max_gain_db = max_gain_db

    def gain(self, samples_48k: np.ndarray) -> float:
        """The linear gain that moves ``samples_48k`` to the target (1 for silence)."""
        if self.mode == "off":
            return 1.0
        measured = integrated_loudness(samples_48k) if self.mode == "lufs" else rms_dbfs(samples_48k)
        if measured is None:
            return 1.0
        return float(10.0 ** (min(self.max_gain_db, self.target - measured) / 20.0))
