"""Worker settings (the ``worker.*``, ``model_manager.*`` and ``registry.*`` keys of the
Swift configuration that apply to a Python worker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class WorkerConfig:
    """Everything a :class:`~duplex_worker.Worker` can be told; defaults match the Swift worker."""

    # -- worker ----------------------------------------------------------------------------
    name: str = "worker"                 #: reported in GetCapabilities and the registry
    host: str = "127.0.0.1"              #: gRPC bind address
    port: int = 7001                     #: gRPC port (0: a free port)
    max_sessions: int = 32               #: more concurrent sessions fail with SESSION_LIMIT
    synthesis_ahead: int = 2             #: segments synthesized ahead of the one playing
    pacing_lead_ms: int = 60             #: audio sent ahead of real time (3 frames)
    paced: bool = True                   #: False: frames go out as fast as the client reads
    inference_threads: int = 1           #: threads model code runs on (1: models need not be thread-safe)
    max_synthesis_characters: int = 1_000_000  #: more text in one Synthesize is TEXT_TOO_LONG
    drain_timeout: float = 10.0          #: seconds running syntheses get to finish on SIGTERM
    worker_token: str = ""               #: shared token every call must carry (security.worker_token); empty: none

    # -- model manager ---------------------------------------------------------------------
    default_model: str = ""              #: empty: the first model of the catalog
    preload_models: List[str] = field(default_factory=list)  #: loaded after the default
    ttl_ms: int = 600_000                #: an idle model is unloaded after this long
    min_residency_ms: int = 120_000      #: a model stays at least this long after loading
    evict_check_interval_ms: int = 30_000
    resident_cap: int = 3                #: most resident models (LRU eviction above)
    max_parallel_loads: int = 1          #: the load lock
    keep_default: bool = True            #: the default model is never evicted
    warmup: bool = True                  #: warm up (and measure loudness) after each load
    warmup_text: str = "Hello, this is a warmup."
    loudness: str = "lufs"               #: lufs, rms or off
    loudness_target: float = -16.0       #: LUFS (or dBFS for rms)

    # -- registry --------------------------------------------------------------------------
    redis_url: str = ""                  #: redis://host:port; empty: no registration
    redis_prefix: str = "duplex"         #: key prefix: <prefix>:worker:<name>, <prefix>:workers
    heartbeat_ms: int = 10_000           #: record rewrite interval
    registry_ttl_ms: Optional[int] = None  #: record TTL; default 3 x heartbeat_ms
    advertise: str = ""                  #: grpc://host:port others reach us at; default the bind address
    version: str = ""                    #: the record's version; default the SDK version

    def validate(self) -> None:
        """Raises ValueError naming the first out-of-range setting."""
        checks = [
            (0 <= self.port <= 65535, "port must be 0-65535"),
            (1 <= self.max_sessions <= 10_000, "max_sessions must be 1-10000"),
            (1 <= self.synthesis_ahead <= 16, "synthesis_ahead must be 1-16"),
            (0 <= self.pacing_lead_ms <= 1000, "pacing_lead_ms must be 0-1000"),
            (1 <= self.inference_threads <= 64, "inference_threads must be 1-64"),
            (self.resident_cap >= 1, "resident_cap must be >= 1"),
            (self.max_parallel_loads >= 1, "max_parallel_loads must be >= 1"),
            (self.ttl_ms >= 1000, "ttl_ms must be >= 1000"),
            (self.loudness in ("lufs", "rms", "off"), "loudness must be lufs, rms or off"),
            (bool(self.name), "name must not be empty"),
            (bool(self.redis_prefix), "redis_prefix must not be empty"),
            (self.heartbeat_ms >= 10, "heartbeat_ms must be >= 10"),
            (self.effective_registry_ttl_ms > self.heartbeat_ms, "registry_ttl_ms must be greater than heartbeat_ms"),
            (self.drain_timeout >= 0, "drain_timeout must be >= 0"),
            (not self.worker_token or len(self.worker_token) >= 16, "worker_token needs at least 16 characters"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def effective_registry_ttl_ms(self) -> int:
        """The record TTL: ``registry_ttl_ms`` or three heartbeats."""
        return self.registry_ttl_ms if self.registry_ttl_ms is not None else 3 * self.heartbeat_ms

    @property
    def lead_frames(self) -> int:
        """Frames sent at once at the start and after RESUME."""
        return self.pacing_lead_ms // 20
