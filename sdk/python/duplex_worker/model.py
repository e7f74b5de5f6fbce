"""The class a worker author subclasses: one TTS model (voice) the worker can serve."""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import SYNTHESIS_FAILED, DuplexError
from .options import VoiceOptions

#: One piece of audio from :meth:`Model.synthesize`: mono samples and their sample rate.
AudioChunk = Tuple[np.ndarray, int]


class Model:
    """A TTS model served by the worker. Subclass it and implement :meth:`load` and
    :meth:`synthesize` (and :meth:`unload` if the model holds resources worth freeing).

    The SDK calls every method from a worker thread, never from the event loop, and never
    two calls at once unless the worker runs more than one inference thread
    (``--inference-threads``); most models are not thread-safe, so the default is one.

    Args:
        model_id: the id sessions ask for (``StartSession.model_id``); defaults to the class
            attribute ``model_id``.
        family: the model family reported in ``ListModels`` (e.g. ``piper``, ``cosyvoice``).
        languages: language tags the model speaks, e.g. ``["en-us"]`` (``["*"]`` for any).
        tags: capability flags: ``cpu_ok``, ``gpu``, ``zero_shot``, ``lora``, ``expressive``…
            Default ``["cpu_ok"]`` on CPU, ``["gpu"]`` otherwise.
        device: where inference runs, ``cpu`` or ``cuda:0``…; reported in the model's
            metadata and, when not ``cpu``, as the registry record's ``hardware.gpu``.
        display_name: a human name (metadata ``display_name``); defaults to the id.
        sample_rate: the model's native rate, informational (metadata ``sample_rate``).
        metadata: extra ``ModelInfo.metadata`` entries (they win over the SDK's keys).
        files: model files; their total size is the memory estimate's floor.
    """

    model_id: str = ""
    family: str = "python"
    languages: Sequence[str] = ()
    tags: Optional[Sequence[str]] = None
    device: str = "cpu"
    display_name: str = ""
    sample_rate: int = 0
    #: Warmup phrase for this model (None: the worker's phrase). Warmup also measures the
    #: loudness gain, so use ordinary speech in the model's language.
    warmup_text: Optional[str] = None

    def __init__(
        self,
        model_id: Optional[str] = None,
        *,
        family: Optional[str] = None,
        languages: Optional[Sequence[str]] = None,
        tags: Optional[Sequence[str]] = None,
        device: Optional[str] = None,
        display_name: Optional[str] = None,
        sample_rate: Optional[int] = None,
        metadata: Optional[Mapping[str, str]] = None,
        files: Optional[Sequence[str]] = None,
    ) -> None:
        self.model_id = model_id if model_id is not None else type(self).model_id
        if not self.model_id:
            raise ValueError(f"{type(self).__name__} needs a model_id")
        self.family = family if family is not None else type(self).family
        self.languages = list(languages if languages is not None else type(self).languages)
        self.device = device if device is not None else type(self).device
        chosen = tags if tags is not None else type(self).tags
        if chosen is None:
            chosen = ["cpu_ok"] if self.is_cpu else ["gpu"]
        self.tags = sorted(set(chosen))
        self.display_name = display_name or type(self).display_name or self.model_id
        self.sample_rate = sample_rate if sample_rate is not None else type(self).sample_rate
        self.metadata = dict(metadata or {})
        self.files = list(files or [])

    # -- to implement ---------------------------------------------------------------------

    def load(self) -> None:
        """Loads the model (blocking; may take seconds). Raise to fail the load."""

    def synthesize(self, text: str, options: VoiceOptions) -> Iterable[AudioChunk]:
        """Speaks one text segment (a clause or a sentence).

        Return (or yield) ``(samples, sample_rate)`` pairs: mono ``float32`` samples in
        [-1, 1] or ``int16`` samples, at any sample rate. Yield several chunks to stream a
        long segment; each chunk is played as soon as it arrives. Blocking; runs in a worker
        thread. If the client goes away meanwhile, the SDK stops asking for more chunks and
        discards what this call still produces.
        """
        raise NotImplementedError

    def unload(self) -> None:
        """Releases the model's resources (called once, when no one uses it)."""

    def fingerprint(self) -> str:
        """Identifies the model's files; a RELOAD that finds a different fingerprint for the
        same id replaces the resident model. Default: sizes and mtimes of :attr:`files`."""
        parts = []
        for path in self.files:
            try:
                st = os.stat(path)
                parts.append(f"{os.path.basename(path)}:{st.st_size}:{int(st.st_mtime)}")
            except OSError:
                parts.append(f"{os.path.basename(path)}:missing")
        return ",".join(parts)

    # -- helpers --------------------------------------------------------------------------

    @property
    def is_cpu(self) -> bool:
        """Whether inference runs on the CPU."""
        return self.device.lower().startswith("cpu")

    def files_size(self) -> int:
        """Total size of :attr:`files` in bytes (0 for missing files)."""
        total = 0
        for path in self.files:
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
        return total

    def info_metadata(self) -> dict:
        """``ModelInfo.metadata``: ``display_name``, ``sample_rate``, ``tags``, ``device``
        and ``fingerprint``, overridden by :attr:`metadata`."""
        base = {
            "display_name": self.display_name,
            "sample_rate": str(self.sample_rate),
            "tags": ",".join(sorted(self.tags)),
            "device": self.device,
        }
        fingerprint = self.fingerprint()
        if fingerprint:
            base["fingerprint"] = fingerprint
        base.update(self.metadata)
        return base

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, family={self.family!r}, device={self.device!r})"


def audio_chunks(result: Union[AudioChunk, Iterable[AudioChunk], None]) -> Iterator[AudioChunk]:
    """Accepts what :meth:`Model.synthesize` returned (an iterable of chunks, a single chunk,
    or None) and yields the chunks."""
    if result is None:
        return iter(())
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], (int, np.integer)):
        return iter((result,))
    return iter(result)


def as_float_mono(samples, sample_rate) -> Tuple[np.ndarray, int]:
    """Converts one chunk to mono float32 in [-1, 1] (int16 is scaled by 1/32768; several
    channels are averaged).

    Raises:
        DuplexError: ``SYNTHESIS_FAILED`` for a bad sample rate or sample type.
    """
    rate = int(sample_rate)
    if rate <= 0:
        raise DuplexError(SYNTHESIS_FAILED, f"The model returned audio with sample rate {sample_rate}.")
    array = np.asarray(samples)
    if array.dtype.kind in "iu" and array.dtype != np.int16:
        raise DuplexError(SYNTHESIS_FAILED, f"Audio samples must be float or int16, not {array.dtype}.")
    if array.dtype == np.int16:
        array = array.astype(np.float32) * np.float32(1 / 32768)
    if array.ndim > 1:
        # (frames, channels) or (channels, frames): average the channels.
        channel_axis = 1 if array.shape[0] >= array.shape[-1] else 0
        array = array.mean(axis=channel_axis)
    return np.ascontiguousarray(array.ravel(), dtype=np.float32), rate
