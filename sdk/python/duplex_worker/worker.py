"""A running worker: the gRPC server, the model manager, the evictor, the registrar, and
the graceful drain on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import socket
import time
from typing import Any, Callable, Dict, Iterable, Optional, Union

import grpc

from . import __version__
from .config import WorkerConfig
from .dsp.loudness import LoudnessNormalizer
from .executor import InferenceExecutor
from .manager import ModelManager, ModelPolicy
from .model import Model
from .registry import Registrar
from .service import TTSService, cpu_cores

log = logging.getLogger("duplex_worker")

Models = Union[Model, Iterable[Model]]


def as_model_list(models: Models) -> list:
    """A model or an iterable of models, as a list."""
    return [models] if isinstance(models, Model) else list(models)


class Worker:
    """A TTS worker serving the Duplex ABI for a set of :class:`Model` s.

    Args:
        models: the catalog (a model or an iterable of models).
        config: settings (defaults match the Swift worker).
        catalog_hook: called (on a thread) by ``Control(RELOAD)`` to rebuild the catalog.

    ``await start()`` binds and starts serving (the default model loads in the background;
    ``ready`` turns true once it is warmed up); ``await drain()`` shuts down gracefully;
    ``await run()`` does both around SIGTERM/SIGINT.
    """

    def __init__(self, models: Models, config: Optional[WorkerConfig] = None,
                 catalog_hook: Optional[Callable[[], Iterable[Model]]] = None) -> None:
        self.config = config or WorkerConfig()
        self.config.validate()
        self._models = as_model_list(models)
        self.catalog_hook = catalog_hook
        self.port: int = 0
        self.registration_name = self.config.name
        self.address = ""
        self.started_at = 0
        self.executor: Optional[InferenceExecutor] = None
        self.manager: Optional[ModelManager] = None
        self.service: Optional[TTSService] = None
        self.server: Optional[grpc.aio.Server] = None
        self.registrar: Optional[Registrar] = None
        self.failure: Optional[BaseException] = None
        self._tasks: list = []
        self._stop_requested: Optional[asyncio.Event] = None
        self._force: Optional[asyncio.Event] = None
        self._drained = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> int:
        """Starts serving; returns the bound port."""
        config = self.config
        self._stop_requested = asyncio.Event()
        self._force = asyncio.Event()
        self.started_at = int(time.time() * 1000)
        self.executor = InferenceExecutor(config.inference_threads)
        policy = ModelPolicy(
            ttl=config.ttl_ms / 1000, min_residency=config.min_residency_ms / 1000, resident_cap=config.resident_cap,
            max_parallel_loads=config.max_parallel_loads, warmup=config.warmup, warmup_text=config.warmup_text)
        self.manager = ModelManager(
            self._models, self.executor, LoudnessNormalizer(config.loudness, config.loudness_target), policy,
            on_change=self._changed)
        self.service = TTSService(config, self.manager, self.executor, self.catalog_hook, on_change=self._changed)
        default = self.service.default_model_id
        if config.keep_default and default:
            policy.pinned = {default}
        interceptors = [_TokenInterceptor(config.worker_token)] if config.worker_token else []
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)], interceptors=interceptors)
        self.service.add_to_server(self.server)
        self.port = self.server.add_insecure_port(f"{config.host}:{config.port}")
        await self.server.start()
        host = config.host
        if host in ("0.0.0.0", "::", "[::]"):
            host = socket.gethostname()
        self.address = config.advertise or f"grpc://{host}:{self.port}"
        loop = asyncio.get_running_loop()
        if config.redis_url:
            # Several workers share a registry: the default name becomes unique by address.
            if config.name == "worker":
                self.registration_name = f"worker-{host}-{self.port}"
            self.registrar = Registrar(config.redis_url, self.record, config.redis_prefix, config.heartbeat_ms,
                                       config.effective_registry_ttl_ms)
            self.registrar.start()
            log.info("registering in Redis as %s at %s", self.registration_name, self.address)
        self._tasks = [loop.create_task(self._prepare(), name="duplex prepare"),
                       loop.create_task(self._evict_periodically(), name="duplex evictor")]
        log.info("serving duplex.tts.v1 on %s:%d", config.host, self.port)
        return self.port

    async def run(self, on_listening: Optional[Callable[[int], None]] = None) -> int:
        """Starts, serves until SIGTERM/SIGINT (or :meth:`request_stop`), drains; returns the
        exit code (0, or 1 if the default model could not be loaded)."""
        await self.start()
        loop = asyncio.get_running_loop()
        for sig, force in ((signal.SIGTERM, False), (signal.SIGINT, True)):
            try:
                loop.add_signal_handler(sig, self.request_stop, force)
            except (NotImplementedError, RuntimeError):
                pass
        if on_listening is not None:
            on_listening(self.port)
        await self._stop_requested.wait()
        await self.drain()
        return 1 if self.failure is not None else 0

    def request_stop(self, force_on_repeat: bool = False) -> None:
        """Begins a graceful drain. With ``force_on_repeat`` (SIGINT: Ctrl-C twice) a second
        request stops waiting for running syntheses; a repeated SIGTERM (``timeout`` and
        process managers often signal the whole group) changes nothing."""
        if self._stop_requested.is_set():
            if force_on_repeat and not self._force.is_set():
                log.warning("second interrupt: not waiting for running syntheses")
                self._force.set()
            return
        log.info("stop requested: draining")
        self._stop_requested.set()

    async def drain(self) -> None:
        """Graceful shutdown: not ready at once (registry ``update``), new sessions and
        syntheses refused (UNAVAILABLE), running syntheses get ``drain_timeout`` seconds to
        finish; then the record is deleted (``down``) and the server stops."""
        if self._drained:
            return
        self._drained = True
        service = self.service
        service.draining = True
        if self.registrar is not None:
            await self.registrar.refresh()
        running = service.stats.active_syntheses
        if running:
            log.info("draining: waiting for %d running synthesis(es)", running)
            idle = asyncio.ensure_future(service.wait_idle(self.config.drain_timeout))
            forced = asyncio.ensure_future(self._force.wait())
            await asyncio.wait({idle, forced}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (idle, forced):
                waiter.cancel()
        if self.registrar is not None:
            await self.registrar.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.stop(grace=1.0)
        self.executor.shutdown()
        log.info("worker stopped")

    async def stop(self) -> None:
        """Stops at once (no waiting for running syntheses)."""
        if self._force is not None:
            self._force.set()
        await self.drain()

    # -- internals --------------------------------------------------------------------------

    async def _prepare(self) -> None:
        try:
            await self.service.prepare()
            log.info("worker ready (default model %s)", self.service.default_model_id)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            message = getattr(exc, "message", None) or str(exc)
            log.error("the worker could not load its default model: %s", message)
            self.failure = exc
            self._stop_requested.set()

    async def _evict_periodically(self) -> None:
        interval = self.config.evict_check_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            evicted = await self.manager.evict_idle()
            if evicted:
                log.info("evicted idle models: %s", ", ".join(evicted))

    def _changed(self) -> None:
        if self.registrar is not None:
            self.registrar.refresh_now()

    def record(self) -> Dict[str, Any]:
        """The registry record (docs/ROUTING.md, "Record JSON"); ``updated_at`` is added by
        the registrar."""
        snapshot = self.service.snapshot()
        metrics = snapshot.metrics
        return {
            "name": self.registration_name,
            "address": self.address,
            "capabilities": snapshot.capabilities,
            "languages": snapshot.languages,
            "models": snapshot.models,
            "resident_models": snapshot.resident_models,
            "hardware": {"cpu_cores": cpu_cores(), "gpu": snapshot.gpu},
            "metrics": {
                "active_sessions": int(metrics["active_sessions"]),
                "queue_depth": int(metrics["queue_depth"]),
                "rtf_p50": metrics["rtf_p50"],
                "first_audio_p50_ms": metrics["first_audio_p50_ms"],
            },
            "version": self.config.version or f"duplex-worker-py {__version__}",
            "started_at": self.started_at,
            "ready": snapshot.ready,
        }


class _TokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without ``authorization: Bearer <worker_token>`` with UNAUTHENTICATED,
    as the Swift worker does (docs/SECURITY.md)."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(self, continuation, handler_call_details):
        presented = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(presented.encode(), self._expected):
            return await continuation(handler_call_details)
        message = ("This worker requires the shared worker token (security.worker_token) as `authorization: Bearer <token>`."
                   if not presented else "The worker token is wrong (security.worker_token).")

        async def refuse(request_or_iterator, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(refuse)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(refuse)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(refuse)
        return grpc.unary_unary_rpc_method_handler(refuse)
