"""Per-session voice options, parsed and validated exactly like Swift ``VoiceOptions(parsing:)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

from .errors import INVALID_MESSAGE, DuplexError


@dataclass(frozen=True)
class VoiceOptions:
    """What a session asked for in ``StartSession.options``.

    Attributes:
        speed: speaking-rate multiplier, 0.5–2.0 (1 = the voice's natural rate).
        voice: the ``voice`` or ``language`` option (1–64 characters), e.g. an espeak voice name.
        noise_scale: VITS/Piper noise scale override (0–2), or None.
        noise_w: VITS/Piper noise width override (0–2), or None.
        pacing: False for clients that do not play in real time: frames flow as fast as they
            are synthesized (ABI v1.1 ``pacing`` option).
        admission: ``strict`` (refuse when the worker cannot serve in time) or ``force`` (the
            router's last resort: serve anyway), ABI v1.1.
    """

    speed: float = 1.0
    voice: Optional[str] = None
    noise_scale: Optional[float] = None
    noise_w: Optional[float] = None
    pacing: bool = True
    admission: str = "strict"

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> "VoiceOptions":
        """Parses a ``StartSession`` option map.

        Raises:
            DuplexError: ``INVALID_MESSAGE`` naming the bad option.
        """
        speed, voice, noise_scale, noise_w = 1.0, None, None, None
        pacing, admission = True, "strict"
        for key, value in options.items():
            if key == "speed":
                v = _number(value)
                if v is None or not 0.5 <= v <= 2.0:
                    raise DuplexError(INVALID_MESSAGE, f"Option 'speed' must be a number from 0.5 to 2.0 (got '{value}').")
                speed = v
            elif key in ("voice", "language"):
                if not value or len(value) > 64:
                    raise DuplexError(INVALID_MESSAGE, f"Option '{key}' must be a voice or language name.")
                voice = value
            elif key in ("noise_scale", "noise_w"):
                v = _number(value)
                if v is None or not 0.0 <= v <= 2.0:
                    raise DuplexError(INVALID_MESSAGE, f"Option '{key}' must be a number from 0 to 2 (got '{value}').")
                if key == "noise_scale":
                    noise_scale = v
                else:
                    noise_w = v
            elif key == "pacing":
                if value.lower() in ("true", "1", "yes"):
                    pacing = True
                elif value.lower() in ("false", "0", "no"):
                    pacing = False
                else:
                    raise DuplexError(INVALID_MESSAGE, f"Option 'pacing' must be true or false (got '{value}').")
            elif key == "admission":
                if value not in ("strict", "force"):
                    raise DuplexError(INVALID_MESSAGE, f"Option 'admission' must be strict or force (got '{value}').")
                admission = value
            else:
                raise DuplexError(
                    INVALID_MESSAGE,
                    "Unknown voice option '" + key + "'; known: speed, voice, language, noise_scale, noise_w, pacing, admission.")
        return cls(speed=speed, voice=voice, noise_scale=noise_scale, noise_w=noise_w, pacing=pacing, admission=admission)


def _number(text: str) -> Optional[float]:
    """Swift ``Double(String)``: a plain decimal or hex float, no surrounding spaces, no ``_``.

    Python's ``float`` also accepts whitespace, digit separators and non-ASCII digits, which
    Swift rejects; NaN and infinities parse in both but fail every range check anyway.
    """
    if not text or not text.isascii() or text != text.strip() or "_" in text:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            value = float.fromhex(text)
        except ValueError:
            return None
    return None if math.isnan(value) else value
