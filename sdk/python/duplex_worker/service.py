"""The worker side of ``duplex.tts.v1.TTSService`` (port of Swift ``TTSWorkerService``).

Sessions bind a model (leased from the :class:`ModelManager`); each ``Synthesize`` call is
one reply run through a :class:`SynthesisPipeline`; ``Control`` pauses, resumes or stops the
session's current reply, or re-runs the catalog hook (RELOAD). Every handler runs on the
worker's event loop; a :class:`DuplexError` becomes a gRPC status with the Duplex code in
the ``duplex-error-code`` trailing metadata.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional

import grpc

from . import memory
from .config import WorkerConfig
from .errors import (INTERNAL, INVALID_MESSAGE, SESSION_LIMIT, SESSION_NOT_FOUND, SYNTHESIS_FAILED, UNKNOWN_MODEL,
                     WORKER_UNAVAILABLE, DuplexError)
from .executor import InferenceExecutor
from .manager import Lease, ModelManager
from .model import Model
from .options import VoiceOptions
from .pipeline import SynthesisPipeline, SynthesisRun
from .proto import tts_pb2 as pb
from .stats import WorkerStats

log = logging.getLogger("duplex_worker.service")

#: The ABI version this worker implements (GetCapabilities.abi_version).
ABI_VERSION = "1.2"
SERVICE_NAME = "duplex.tts.v1.TTSService"
#: The original project's name for the same service (same messages on the wire): the worker
#: answers ``/tts.TTSService/<Method>`` too, so that project's clients work unchanged.
LEGACY_SERVICE_NAME = "tts.TTSService"


@dataclass
class Session:
    """A worker session: the model it is bound to, its options, its current synthesis."""

    model_id: str
    options: VoiceOptions
    lease: Lease
    current: Optional[SynthesisRun] = None


@dataclass
class Snapshot:
    """What the worker offers and how busy it is (GetCapabilities and the registry)."""

    name: str
    ready: bool
    capabilities: List[str]      #: "streaming" plus the catalog's tags
    languages: List[str]
    models: List[str]
    resident_models: List[str]
    metrics: Dict[str, float]
    gpu: Optional[str]           #: the non-CPU devices of the catalog, or None


def _rpc(handler):
    """Turns a raised :class:`DuplexError` (or any error) into the ABI's gRPC status."""

    @functools.wraps(handler)
    async def wrapper(self, request, context):
        try:
            return await handler(self, request, context)
        except DuplexError as error:
            await context.abort(error.status_code, error.message, trailing_metadata=error.trailing_metadata)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:  # a bug: report it, do not hide it
            log.exception("%s failed", handler.__name__)
            error = DuplexError(INTERNAL, f"{type(exc).__name__}: {exc}")
            await context.abort(error.status_code, error.message, trailing_metadata=error.trailing_metadata)

    return wrapper


class TTSService:
    """The eight RPCs of the ABI; see the module docstring."""

    def __init__(self, config: WorkerConfig, manager: ModelManager, executor: InferenceExecutor,
                 catalog_hook: Optional[Callable[[], Iterable[Model]]] = None,
                 on_change: Optional[Callable[[], None]] = None) -> None:
        self.config = config
        self.manager = manager
        self.executor = executor
        self.catalog_hook = catalog_hook
        self.on_change = on_change
        self.stats = WorkerStats()
        self.sessions: Dict[str, Session] = {}
        #: True once the default model is loaded and warmed up.
        self.ready = False
        #: True while shutting down: new sessions and syntheses are refused.
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def default_model_id(self) -> Optional[str]:
        """The model sessions get when they ask for none: ``default_model``, else the first."""
        if self.config.default_model:
            return self.config.default_model
        return next(iter(self.manager.catalog), None)

    async def prepare(self) -> None:
        """Loads and warms up the default model, then the preloads; ready in between."""
        model_id = self.default_model_id
        if model_id is None:
            raise DuplexError(UNKNOWN_MODEL, "The worker has no model.")
        if self.manager.model(model_id) is None:
            raise DuplexError(UNKNOWN_MODEL, f"The default model '{model_id}' is not in the catalog.")
        await self.manager.load(model_id)
        self.ready = True
        self._changed()
        for other in self.config.preload_models:
            if other == model_id:
                continue
            try:
                await self.manager.load(other)
            except DuplexError as error:
                log.warning("preload of %s failed: %s", other, error.message)

    async def wait_idle(self, timeout: float) -> bool:
        """Waits until no synthesis runs (at most ``timeout`` s); True if idle."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _refuse_while_draining(self) -> None:
        if self.draining:
            raise DuplexError(WORKER_UNAVAILABLE, f"Worker {self.config.name} is shutting down.")

    # -- sessions -------------------------------------------------------------------------

    @_rpc
    async def StartSession(self, request: pb.StartSessionRequest, context) -> pb.StartSessionResponse:
        session_id = request.session_id
        if not 1 <= len(session_id) <= 128:
            raise DuplexError(INVALID_MESSAGE, "session_id must be 1–128 characters.")
        self._refuse_while_draining()
        options = VoiceOptions.parse(request.options)
        model_id = request.model_id or self.default_model_id
        if not model_id:
            raise DuplexError(UNKNOWN_MODEL, "No model is installed.")
        if session_id not in self.sessions:
            self._check_session_limit()
        lease = await self.manager.acquire(model_id)   # a cancelled call acquires nothing
        previous = self.sessions.get(session_id)
        if previous is None and len(self.sessions) >= self.config.max_sessions:
            self.manager.release(lease)   # another StartSession took the last slot meanwhile
            self._check_session_limit()
        self.sessions[session_id] = Session(model_id, options, lease, previous.current if previous else None)
        if previous is not None:
            self.manager.release(previous.lease)
        return pb.StartSessionResponse(success=True, model_id=model_id)

    def _check_session_limit(self) -> None:
        limit = self.config.max_sessions
        if len(self.sessions) >= limit:
            raise DuplexError(SESSION_LIMIT, f"This worker already serves {limit} sessions (max_sessions).")

    @_rpc
    async def EndSession(self, request: pb.EndSessionRequest, context) -> pb.EndSessionResponse:
        session = self.sessions.pop(request.session_id, None)
        if session is not None:
            if session.current is not None:
                session.current.stop()
            self.manager.release(session.lease)
        return pb.EndSessionResponse(success=session is not None)

    # -- synthesis ------------------------------------------------------------------------

    async def Synthesize(self, request_iterator, context) -> None:
        try:
            await self._synthesize(request_iterator, context)
        except DuplexError as error:
            await context.abort(error.status_code, error.message, trailing_metadata=error.trailing_metadata)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            log.exception("Synthesize failed")
            error = DuplexError(SYNTHESIS_FAILED, f"Synthesis failed: {type(exc).__name__}: {exc}")
            await context.abort(error.status_code, error.message, trailing_metadata=error.trailing_metadata)

    async def _synthesize(self, request_iterator, context) -> None:
        requests = request_iterator.__aiter__()
        first = await anext(requests, None)
        if first is None:
            return
        if len(first.synthesis_id) > 128:
            raise DuplexError(INVALID_MESSAGE, "synthesis_id must be at most 128 characters.")
        self._refuse_while_draining()
        session_id = first.session_id
        session = self.sessions.get(session_id)
        if session is None:
            raise DuplexError(SESSION_NOT_FOUND, f"No worker session '{session_id}'; call StartSession first.")
        run = SynthesisRun(first.synthesis_id)
        lease = await self.manager.acquire(session.model_id)
        # A new reply replaces the session's current one.
        current = self.sessions.get(session_id)
        replaced = None
        if current is not None:
            replaced, current.current = current.current, run
        if replaced is not None:
            replaced.stop()
        self.stats.synthesis_started()
        self._idle.clear()
        config = self.config
        pipeline = SynthesisPipeline(
            run, lease.loaded, session.options, self.executor, session_id, lead_frames=config.lead_frames,
            synthesis_ahead=config.synthesis_ahead, max_characters=config.max_synthesis_characters,
            paced=config.paced and session.options.pacing)
        try:
            await pipeline.execute(first.text, first.is_final, requests, context.write)
        except (DuplexError, asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            log.warning("synthesis %s failed: %s: %s", run.id, type(exc).__name__, exc)
            raise DuplexError(SYNTHESIS_FAILED, f"Synthesis failed: {type(exc).__name__}: {exc}") from exc
        finally:
            # Runs on completion, STOP, failure and cancellation alike: nothing outlives the call.
            run.stop()
            owner = self.sessions.get(session_id)
            if owner is not None and owner.current is run:
                owner.current = None
            self.stats.synthesis_ended(pipeline.figures.first_audio, pipeline.figures.real_time_factors)
            if self.stats.active_syntheses == 0:
                self._idle.set()
            self.manager.release(lease)

    # -- control --------------------------------------------------------------------------

    @_rpc
    async def Control(self, request: pb.ControlRequest, context) -> pb.ControlResponse:
        response = await self._control(request)
        # ABI 1.2: field 3 is the original project's timestamp_ms (every answer carries it).
        response.timestamp_ms = _now_ms()
        return response

    async def _control(self, request: pb.ControlRequest) -> pb.ControlResponse:
        if request.command == pb.RELOAD:
            return await self._reload()
        session = self.sessions.get(request.session_id)
        if session is None:
            raise DuplexError(SESSION_NOT_FOUND, f"No worker session '{request.session_id}'.")
        run = session.current
        if run is None:
            return pb.ControlResponse(success=False, message=f"Session '{request.session_id}' has no active synthesis.")
        if request.synthesis_id and request.synthesis_id != run.id:
            # ABI 1.1: a command for another (ended or replaced) synthesis changes nothing.
            return pb.ControlResponse(
                success=False,
                message=f"Synthesis '{request.synthesis_id}' is not running (the session's current synthesis is '{run.id}').")
        if request.command == pb.PAUSE:
            success = run.gate.pause()
        elif request.command == pb.RESUME:
            success = run.gate.resume()
        elif request.command == pb.STOP:
            run.stop()
            success = True
        else:
            raise DuplexError(INVALID_MESSAGE, f"Unknown control command {request.command}.")
        return pb.ControlResponse(success=success, frames_emitted=run.frames_emitted)

    async def _reload(self) -> pb.ControlResponse:
        if self.catalog_hook is None:
            count = len(self.manager.catalog)
            return pb.ControlResponse(success=True, message=f"{count} models; 0 rejected packs")
        try:
            models = list(await asyncio.get_running_loop().run_in_executor(None, lambda: list(self.catalog_hook())))
            dropped = await self.manager.replace_catalog(models)
        except Exception as exc:
            log.warning("RELOAD failed: %s", exc)
            return pb.ControlResponse(success=False, message=f"{len(self.manager.catalog)} models; 1 rejected packs\n- {exc}")
        self._changed()
        message = f"{len(self.manager.catalog)} models; 0 rejected packs"
        if dropped:
            message += "; unloaded changed: " + ", ".join(dropped)
        return pb.ControlResponse(success=True, message=message)

    # -- models ---------------------------------------------------------------------------

    @_rpc
    async def ListModels(self, request, context) -> pb.ListModelsResponse:
        resident = {model_id: (memory_bytes, idle) for model_id, memory_bytes, idle in self.manager.resident_models()}
        infos = []
        for model in self.manager.catalog.values():
            metadata = model.info_metadata()
            if model.model_id in resident:
                memory_bytes, idle = resident[model.model_id]
                metadata["memory_bytes"] = str(memory_bytes)
                metadata["idle_ms"] = str(int(idle * 1000))
            infos.append(pb.ModelInfo(model_id=model.model_id, family=model.family, is_loaded=model.model_id in resident,
                                      languages=list(model.languages), metadata=metadata))
        return pb.ListModelsResponse(models=infos)

    @_rpc
    async def LoadModel(self, request: pb.LoadModelRequest, context) -> pb.LoadModelResponse:
        start = time.monotonic()
        loaded = await self.manager.load(request.model_id)
        return pb.LoadModelResponse(
            success=True, load_duration_ms=int((time.monotonic() - start) * 1000),
            message=f"loaded in {int(loaded.load_seconds * 1000)} ms, warmed up in {int(loaded.warmup_seconds * 1000)} ms")

    @_rpc
    async def UnloadModel(self, request: pb.UnloadModelRequest, context) -> pb.UnloadModelResponse:
        await self.manager.unload(request.model_id)
        return pb.UnloadModelResponse(success=True, message="unloaded")

    @_rpc
    async def GetCapabilities(self, request, context) -> pb.GetCapabilitiesResponse:
        snapshot = self.snapshot()
        tags = set(snapshot.capabilities)
        capabilities = pb.Capabilities(
            streaming=True, zero_shot="zero_shot" in tags, lora="lora" in tags, cpu_ok="cpu_ok" in tags,
            emotive_zero_prompt="expressive" in tags, languages=snapshot.languages,
            max_concurrent_sessions=self.config.max_sessions)
        return pb.GetCapabilitiesResponse(
            capabilities=capabilities, resident_models=snapshot.resident_models, metrics=snapshot.metrics,
            worker_name=snapshot.name, ready=snapshot.ready, abi_version=ABI_VERSION)

    def snapshot(self) -> Snapshot:
        """The worker's current snapshot."""
        models = list(self.manager.catalog.values())
        counters = self.manager.counters
        active = float(self.stats.active_syntheses)
        devices = sorted({m.device for m in models if not m.is_cpu})
        return Snapshot(
            name=self.config.name,
            ready=self.ready and not self.draining,
            capabilities=sorted({tag for m in models for tag in m.tags} | {"streaming"}),
            languages=sorted({lang for m in models for lang in m.languages}),
            models=sorted(m.model_id for m in models),
            resident_models=self.manager.resident_ids,
            metrics={
                "active_sessions": float(len(self.sessions)),
                "active_syntheses": active,
                "queue_depth": active,
                "rtf_p50": self.stats.rtf_p50,
                "first_audio_p50_ms": self.stats.first_audio_p50_ms,
                "resident_models_memory_bytes": float(self.manager.resident_memory_bytes),
                "rss_bytes": float(memory.resident_bytes()),
                "model_loads": float(counters.loads),
                "model_evictions": float(counters.evictions),
            },
            gpu=", ".join(devices) if devices else None,
        )

    # -- registration with a grpc.aio server ---------------------------------------------

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Registers the eight RPCs. Responses may be messages or pre-serialized bytes (the
        pipeline serializes frames off the event loop)."""
        handlers = {
            "StartSession": grpc.unary_unary_rpc_method_handler(
                self.StartSession, pb.StartSessionRequest.FromString, _serialize),
            "EndSession": grpc.unary_unary_rpc_method_handler(self.EndSession, pb.EndSessionRequest.FromString, _serialize),
            "Synthesize": grpc.stream_stream_rpc_method_handler(self.Synthesize, pb.TextChunk.FromString, _serialize),
            "Control": grpc.unary_unary_rpc_method_handler(self.Control, pb.ControlRequest.FromString, _serialize),
            "ListModels": grpc.unary_unary_rpc_method_handler(self.ListModels, pb.ListModelsRequest.FromString, _serialize),
            "LoadModel": grpc.unary_unary_rpc_method_handler(self.LoadModel, pb.LoadModelRequest.FromString, _serialize),
            "UnloadModel": grpc.unary_unary_rpc_method_handler(
                self.UnloadModel, pb.UnloadModelRequest.FromString, _serialize),
            "GetCapabilities": grpc.unary_unary_rpc_method_handler(
                self.GetCapabilities, pb.GetCapabilitiesRequest.FromString, _serialize),
        }
        for name in (SERVICE_NAME, LEGACY_SERVICE_NAME):
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
            server.add_registered_method_handlers(name, handlers)


def _now_ms() -> int:
    """``ControlResponse.timestamp_ms``: when the command took effect, ms since the epoch."""
    return time.time_ns() // 1_000_000


def _serialize(message) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def cpu_cores() -> int:
    """CPU cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
