"""Owns the worker's models: loads on demand, warms up and calibrates, leases, evicts.

A port of ``Sources/DuplexWorker/Models/ModelManager.swift`` on the worker's event loop:

- ``load`` loads a model once: concurrent loads of the same model share one load, and the
  load lock (``max_parallel_loads``, default 1) bounds how many different loads run at once.
  Each load is followed by a warmup synthesis whose audio, resampled to 48 kHz, calibrates
  the model's fixed loudness gain.
- ``acquire`` returns a :class:`Lease`; while a model has leases (sessions, running
  syntheses) it is never unloaded. ``unload`` of a leased model fails with ``MODEL_IN_USE``.
- ``evict_idle`` unloads idle models past their TTL (and past ``min_residency``), then the
  least recently used idle ones while more than ``resident_cap`` are resident. Pinned models
  (the default model) are never evicted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

import numpy as np

from . import memory
from .dsp.framing import SAMPLE_RATE
from .dsp.loudness import LoudnessNormalizer
from .dsp.resampler import Resampler
from .errors import MODEL_IN_USE, MODEL_LOAD_FAILED, UNKNOWN_MODEL, DuplexError
from .executor import AHEAD, URGENT, InferenceExecutor
from .model import Model, as_float_mono, audio_chunks
from .options import VoiceOptions

log = logging.getLogger("duplex_worker.models")


@dataclass
class ModelPolicy:
    """When models are loaded, kept and evicted (the ``model_manager.*`` settings)."""

    ttl: float = 600.0               #: idle seconds before a model is unloaded
    min_residency: float = 120.0     #: a model stays at least this long after loading
    resident_cap: int = 3            #: most resident models
    max_parallel_loads: int = 1      #: most loads at once (the load lock)
    pinned: Set[str] = field(default_factory=set)  #: never evicted (the default model)
    warmup: bool = True              #: warm up (and calibrate loudness) after each load
    warmup_text: str = "Hello, this is a warmup."


@dataclass
class LoadedModel:
    """A model that is loaded, warmed up and calibrated."""

    model: Model
    gain: float               #: linear gain to the loudness target, measured at warmup
    load_seconds: float
    warmup_seconds: float
    memory_bytes: int = 0     #: max(files' size, RSS growth across the load)

    @property
    def model_id(self) -> str:
        return self.model.model_id


@dataclass(eq=False)
class Lease:
    """One holder's claim on a loaded model; return it with :meth:`ModelManager.release`."""

    loaded: LoadedModel
    token: int

    @property
    def model_id(self) -> str:
        return self.loaded.model_id


@dataclass
class Counters:
    """What the manager has done since it started."""

    loads: int = 0
    failed_loads: int = 0
    unloads: int = 0
    evictions: int = 0


class ModelManager:
    """See the module docstring. All methods run on the event loop."""

    def __init__(
        self,
        models: Iterable[Model],
        executor: InferenceExecutor,
        normalizer: LoudnessNormalizer = LoudnessNormalizer(),
        policy: Optional[ModelPolicy] = None,
        clock: Callable[[], float] = time.monotonic,
        on_change: Optional[Callable[[], None]] = None,
    ) -> None:
        self.catalog: Dict[str, Model] = {}
        self._set_catalog(models)
        self.executor = executor
        self.normalizer = normalizer
        self.policy = policy or ModelPolicy()
        self.clock = clock
        self.on_change = on_change
        self.counters = Counters()
        self._resident: Dict[str, Tuple[LoadedModel, float]] = {}   # id -> (model, loaded at)
        self._loading: Dict[str, asyncio.Task] = {}
        self._users: Dict[str, Set[int]] = {}
        self._last_used: Dict[str, float] = {}
        self._stale: Set[str] = set()
        self._tokens = itertools.count(1)
        self._load_lock: Optional[asyncio.Semaphore] = None

    # -- catalog --------------------------------------------------------------------------

    def _set_catalog(self, models: Iterable[Model]) -> None:
        catalog: Dict[str, Model] = {}
        for model in models:
            if not isinstance(model, Model):
                raise TypeError(f"not a duplex_worker.Model: {model!r}")
            if model.model_id in catalog:
                raise ValueError(f"two models share the id {model.model_id!r}")
            catalog[model.model_id] = model
        self.catalog = catalog

    def model(self, model_id: str) -> Optional[Model]:
        """The catalog entry, or None."""
        return self.catalog.get(model_id)

    async def replace_catalog(self, models: Iterable[Model]) -> List[str]:
        """Installs a new catalog (RELOAD). A model whose id and fingerprint are unchanged keeps
        its (possibly resident) instance; resident models that changed or disappeared are
        unloaded now if unused, otherwise when their last lease is released. Returns the ids
        unloaded now."""
        old = self.catalog
        fresh: List[Model] = []
        for model in models:
            previous = old.get(model.model_id)
            keep = previous is not None and type(previous) is type(model) and previous.fingerprint() == model.fingerprint()
            fresh.append(previous if keep else model)
        self._set_catalog(fresh)
        dropped: List[str] = []
        for model_id, (loaded, _) in list(self._resident.items()):
            if self.catalog.get(model_id) is loaded.model:
                continue
            if self._users.get(model_id):
                self._stale.add(model_id)
            elif await self._remove(model_id, "changed"):
                dropped.append(model_id)
        return dropped

    # -- state ----------------------------------------------------------------------------

    @property
    def resident_ids(self) -> List[str]:
        """Ids of the loaded models, sorted."""
        return sorted(self._resident)

    def is_resident(self, model_id: str) -> bool:
        return model_id in self._resident

    def resident_models(self) -> List[Tuple[str, int, float]]:
        """``(id, memory_bytes, idle_seconds)`` of the resident models, most recent first."""
        now = self.clock()
        rows = [(mid, lm.memory_bytes, now - self._last_used.get(mid, now)) for mid, (lm, _) in self._resident.items()]
        return sorted(rows, key=lambda row: row[2])

    @property
    def resident_memory_bytes(self) -> int:
        return sum(lm.memory_bytes for lm, _ in self._resident.values())

    def user_count(self, model_id: str) -> int:
        """How many leases the model has."""
        return len(self._users.get(model_id, ()))

    # -- leases ---------------------------------------------------------------------------

    async def acquire(self, model_id: str) -> Lease:
        """Loads (if needed) and leases a model."""
        loaded = await self.load(model_id)
        token = next(self._tokens)
        self._users.setdefault(model_id, set()).add(token)
        self._last_used[model_id] = self.clock()
        return Lease(loaded, token)

    def release(self, lease: Lease) -> None:
        """Returns a lease (idempotent)."""
        model_id = lease.model_id
        users = self._users.get(model_id)
        if users is not None:
            users.discard(lease.token)
            if not users:
                del self._users[model_id]
        self._last_used[model_id] = self.clock()
        if model_id not in self._users and model_id in self._stale:
            # Its catalog entry changed (RELOAD) while it was in use: drop it now.
            self._stale.discard(model_id)
            asyncio.get_running_loop().create_task(self._remove(model_id, "changed"))

    # -- loading --------------------------------------------------------------------------

    async def load(self, model_id: str) -> LoadedModel:
        """Loads and warms up a model, or returns it if it is resident. Concurrent calls for
        the same model share one load; a caller that is cancelled does not cancel it."""
        resident = self._resident.get(model_id)
        if resident is not None:
            self._last_used[model_id] = self.clock()
            return resident[0]
        task = self._loading.get(model_id)
        if task is None:
            model = self.catalog.get(model_id)
            if model is None:
                raise DuplexError(UNKNOWN_MODEL, f"No model '{model_id}' is installed; ListModels shows the installed ones.")
            task = asyncio.get_running_loop().create_task(self._load_task(model), name=f"load {model_id}")
            self._loading[model_id] = task
        return await asyncio.shield(task)

    async def _load_task(self, model: Model) -> LoadedModel:
        model_id = model.model_id
        try:
            if self._load_lock is None:
                self._load_lock = asyncio.Semaphore(max(1, self.policy.max_parallel_loads))
            async with self._load_lock:
                loaded = await self._load_and_warm(model)
        except BaseException as exc:
            self._loading.pop(model_id, None)
            self.counters.failed_loads += 1
            log.error("model load failed: %s: %s", model_id, exc)
            if isinstance(exc, DuplexError):
                raise
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise DuplexError(MODEL_LOAD_FAILED, f"Loading '{model_id}' failed: {exc}") from exc
        self._loading.pop(model_id, None)
        now = self.clock()
        self._resident[model_id] = (loaded, now)
        self._last_used[model_id] = now
        self.counters.loads += 1
        log.info("model loaded: %s (load %.0f ms, warmup %.0f ms, gain %.3f)", model_id,
                 loaded.load_seconds * 1000, loaded.warmup_seconds * 1000, loaded.gain)
        await self._enforce_cap(keeping=model_id)
        self._changed()
        return loaded

    async def _load_and_warm(self, model: Model) -> LoadedModel:
        rss_before = memory.resident_bytes()
        start = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, model.load)
        load_seconds = time.monotonic() - start
        start = time.monotonic()
        gain = 1.0
        if self.policy.warmup:
            text = model.warmup_text or self.policy.warmup_text
            chunks = await self.executor.run(_synthesize_all, model, text, priority=URGENT)
            gain = self.normalizer.gain(_to_48k(chunks))
        warmup_seconds = time.monotonic() - start
        memory_bytes = max(model.files_size(), memory.resident_bytes() - rss_before)
        return LoadedModel(model, gain, load_seconds, warmup_seconds, memory_bytes)

    # -- unloading ------------------------------------------------------------------------

    async def unload(self, model_id: str) -> None:
        """Unloads a model no one uses.

        Raises:
            DuplexError: ``UNKNOWN_MODEL`` if it is not loaded, ``MODEL_IN_USE`` if leased.
        """
        if model_id not in self._resident:
            raise DuplexError(UNKNOWN_MODEL, f"Model '{model_id}' is not loaded.")
        count = self.user_count(model_id)
        if count:
            raise DuplexError(
                MODEL_IN_USE,
                f"Model '{model_id}' is in use by {count} session(s); end them or switch them to another model first.")
        await self._remove(model_id, "explicit")

    async def evict_idle(self) -> List[str]:
        """Unloads idle models past their TTL, then LRU idle ones over the cap."""
        now = self.clock()
        evicted = []
        for model_id, idle in self._eviction_candidates(now):
            if idle > self.policy.ttl and await self._remove(model_id, "ttl"):
                evicted.append(model_id)
        evicted += await self._enforce_cap(keeping=None)
        return evicted

    def _eviction_candidates(self, now: float) -> List[Tuple[str, float]]:
        """Idle, unpinned models past min residency with their idle time, LRU first."""
        rows = []
        for model_id, (_, loaded_at) in self._resident.items():
            if self._users.get(model_id) or model_id in self.policy.pinned:
                continue
            if now - loaded_at < self.policy.min_residency:
                continue
            rows.append((model_id, now - self._last_used.get(model_id, loaded_at)))
        return sorted(rows, key=lambda row: -row[1])

    async def _enforce_cap(self, keeping: Optional[str]) -> List[str]:
        evicted = []
        for model_id, _ in self._eviction_candidates(self.clock()):
            if len(self._resident) <= self.policy.resident_cap:
                break
            if model_id != keeping and await self._remove(model_id, "cap"):
                evicted.append(model_id)
        return evicted

    async def _remove(self, model_id: str, reason: str) -> bool:
        """The one way a resident, unused model leaves: forget it, count it, free it."""
        entry = self._resident.get(model_id)
        if entry is None or self._users.get(model_id):
            return False
        del self._resident[model_id]
        self._last_used.pop(model_id, None)
        self.counters.unloads += 1
        if reason in ("ttl", "cap"):
            self.counters.evictions += 1
        self._changed()
        # Through the inference executor: a cancelled synthesis may still be finishing a
        # call into this model on a pool thread.
        try:
            await self.executor.run(entry[0].model.unload, priority=AHEAD)
        except Exception as exc:  # the model is forgotten either way
            log.warning("unloading %s raised: %s", model_id, exc)
        log.info("model unloaded: %s (%s)", model_id, reason)
        return True

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _synthesize_all(model: Model, text: str) -> list:
    """Runs a whole synthesis on the calling (pool) thread; returns its chunks."""
    return [as_float_mono(samples, rate) for samples, rate in audio_chunks(model.synthesize(text, VoiceOptions()))]


def _to_48k(chunks: list) -> np.ndarray:
    """Concatenates chunks (resampling each run of equal rate) at 48 kHz."""
    out = []
    resampler: Optional[Resampler] = None
    for samples, rate in chunks:
        if resampler is None or resampler.input_rate != rate:
            if resampler is not None:
                out.append(resampler.flush())
            resampler = Resampler(rate, SAMPLE_RATE)
        out.append(resampler.process(samples))
    if resampler is not None:
        out.append(resampler.flush())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
