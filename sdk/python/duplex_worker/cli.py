"""``serve()``: the command line of a worker, so a worker script is a few lines."""

from __future__ import annotations

import argparse
import os
import asyncio
import inspect
import logging
import sys
from typing import Callable, Iterable, List, Optional, Sequence, Union

from .config import WorkerConfig
from .model import Model
from .worker import Worker, as_model_list

ModelSource = Union[Model, Iterable[Model], Callable[..., Union[Model, Iterable[Model]]]]


def make_parser(description: str = "A Duplex TTS worker (duplex.tts.v1 over gRPC).") -> argparse.ArgumentParser:
    """The standard worker options; add your own before passing it to :func:`serve`."""
    d = WorkerConfig()
    p = argparse.ArgumentParser(description=description)
    g = p.add_argument_group("worker")
    g.add_argument("--host", default=d.host, help=f"gRPC bind address (default {d.host})")
    g.add_argument("--port", type=int, default=d.port, help=f"gRPC port; 0 picks a free one (default {d.port})")
    g.add_argument("--name", default=d.name, help="worker name (GetCapabilities, registry)")
    g.add_argument("--max-sessions", type=int, default=d.max_sessions, help=f"default {d.max_sessions}")
    g.add_argument("--pacing-lead-ms", type=int, default=d.pacing_lead_ms,
                   help=f"audio sent ahead of real time (default {d.pacing_lead_ms})")
    g.add_argument("--unpaced", action="store_true", help="send frames as fast as the client reads them")
    g.add_argument("--synthesis-ahead", type=int, default=d.synthesis_ahead,
                   help=f"segments synthesized ahead of playback (default {d.synthesis_ahead})")
    g.add_argument("--inference-threads", type=int, default=d.inference_threads,
                   help="threads model code runs on (default 1; more only for thread-safe models)")
    g.add_argument("--drain-timeout-s", type=float, default=d.drain_timeout,
                   help=f"on SIGTERM, how long running syntheses may finish (default {d.drain_timeout:g})")
    g.add_argument("--worker-token", default=os.environ.get("DUPLEX_SECURITY_WORKER_TOKEN", ""),
                   help="require this shared token on every call (default $DUPLEX_SECURITY_WORKER_TOKEN)")
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    m = p.add_argument_group("models")
    m.add_argument("--default-model", default="", help="model for sessions that name none (default: the first)")
    m.add_argument("--preload-models", default="", help="models to load after the default, comma-separated")
    m.add_argument("--ttl-ms", type=int, default=d.ttl_ms, help=f"idle time before a model is unloaded (default {d.ttl_ms})")
    m.add_argument("--resident-cap", type=int, default=d.resident_cap, help=f"most resident models (default {d.resident_cap})")
    m.add_argument("--max-parallel-loads", type=int, default=d.max_parallel_loads)
    m.add_argument("--no-warmup", action="store_true", help="skip the warmup synthesis (loudness gain stays 1)")
    m.add_argument("--loudness", default=d.loudness, choices=["lufs", "rms", "off"], help="normalization (default lufs)")
    m.add_argument("--loudness-target", type=float, default=d.loudness_target, help="default -16 (LUFS)")
    r = p.add_argument_group("registry")
    r.add_argument("--redis", default="", help="register in this Redis, redis://host:port")
    r.add_argument("--redis-prefix", default=d.redis_prefix, help=f"key prefix (default {d.redis_prefix})")
    r.add_argument("--advertise", default="", help="address others reach this worker at, grpc://host:port")
    r.add_argument("--heartbeat-ms", type=int, default=d.heartbeat_ms, help=f"default {d.heartbeat_ms}")
    r.add_argument("--registry-ttl-ms", type=int, default=None, help="record TTL (default 3 x heartbeat)")
    return p


def config_from_args(args: argparse.Namespace) -> WorkerConfig:
    """A :class:`WorkerConfig` from parsed :func:`make_parser` options."""
    return WorkerConfig(
        name=args.name, host=args.host, port=args.port, max_sessions=args.max_sessions,
        synthesis_ahead=args.synthesis_ahead, pacing_lead_ms=args.pacing_lead_ms, paced=not args.unpaced,
        inference_threads=args.inference_threads, drain_timeout=args.drain_timeout_s,
        default_model=args.default_model, preload_models=[m for m in args.preload_models.split(",") if m],
        ttl_ms=args.ttl_ms, resident_cap=args.resident_cap, max_parallel_loads=args.max_parallel_loads,
        warmup=not args.no_warmup, loudness=args.loudness, loudness_target=args.loudness_target,
        redis_url=args.redis, redis_prefix=args.redis_prefix, advertise=args.advertise,
        heartbeat_ms=args.heartbeat_ms, registry_ttl_ms=args.registry_ttl_ms, worker_token=args.worker_token)


def serve(models: ModelSource, argv: Optional[Sequence[str]] = None, *,
          parser: Optional[argparse.ArgumentParser] = None) -> int:
    """Parses the command line, runs a worker until SIGTERM/SIGINT, drains, and returns the
    exit code (pass it to ``sys.exit``). Prints ``LISTENING <port>`` on stdout once serving.

    Args:
        models: a :class:`Model`, a list of them, or a callable returning them. A callable
            may take the parsed arguments (``lambda args: MyModel(args.checkpoint)``); it is
            called at start and again by ``Control(RELOAD)``.
        argv: the arguments (default ``sys.argv[1:]``).
        parser: a :func:`make_parser` parser with your own options added.
    """
    args = (parser or make_parser()).parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
        hook = None
        if callable(models) and not isinstance(models, Model):
            factory = models
            takes_args = _accepts_argument(factory)
            hook = (lambda: as_model_list(factory(args))) if takes_args else (lambda: as_model_list(factory()))
            catalog = hook()
        else:
            catalog = as_model_list(models)
        worker = Worker(catalog, config, catalog_hook=hook)
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def listening(port: int) -> None:
        print(f"LISTENING {port}", flush=True)

    try:
        return asyncio.run(worker.run(on_listening=listening))
    except RuntimeError as exc:  # e.g. the port is taken
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _accepts_argument(fn: Callable) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return bool(positional)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m duplex_worker``: serves the built-in 440 Hz test tone (for trying the SDK
    and testing clients)."""
    from .testing import SineModel

    return serve(lambda: [SineModel()], argv)
