"""Audio processing: resampling to 48 kHz, loudness normalization, 20 ms framing."""

from .framing import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, SAMPLES_PER_FRAME, FrameAssembler, to_int16
from .loudness import LoudnessNormalizer, integrated_loudness, soft_limit
from .resampler import Resampler

__all__ = [
    "FRAME_BYTES", "FRAME_MS", "SAMPLE_RATE", "SAMPLES_PER_FRAME", "FrameAssembler", "to_int16",
    "LoudnessNormalizer", "integrated_loudness", "soft_limit", "Resampler",
]
