"""Registration in the Redis worker registry (port of Swift ``WorkerRegistrar``; docs/ROUTING.md).

The worker's record JSON lives under ``<prefix>:worker:<name>``, written with ``SET … PX ttl``
and rewritten every heartbeat. Each write tries ``SET … XX`` first: a missing key (Redis
restarted, or the key expired during an outage) is written again and announced with ``up``.
Events go to the pub/sub channel ``<prefix>:workers`` as ``{"event":"up"|"update"|"down",
"name":…}``: ``up`` when registering, ``update`` only when the resident models, readiness or
capabilities changed (metrics travel silently with the record), ``down`` after the key is
deleted on shutdown. Redis being unreachable never stops the worker: the failure is logged
and the next heartbeat retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Dict, Optional, Tuple

log = logging.getLogger("duplex_worker.registry")


def dumps(value: Any) -> str:
    """JSON as the Swift registry writes it: sorted keys, no spaces, unescaped UTF-8 and
    slashes, integral numbers without a fraction."""
    return json.dumps(_integral(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def now_ms() -> int:
    """Now, in Unix milliseconds."""
    return int(round(time.time() * 1000))


class Registrar:
    """Keeps a worker's record in the registry while it runs.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``.
        snapshot: returns the current record (a dict with the WorkerRecord fields);
            ``updated_at`` is set at each write.
        prefix: key prefix (``duplex``).
        heartbeat_ms: rewrite interval.
        ttl_ms: the record's time to live (greater than ``heartbeat_ms``).
    """

    def __init__(self, url: str, snapshot: Callable[[], Dict[str, Any]], prefix: str = "duplex",
                 heartbeat_ms: int = 10_000, ttl_ms: int = 30_000) -> None:
        if ttl_ms <= heartbeat_ms:
            raise ValueError("the registry TTL must be greater than the heartbeat interval")
        import redis.asyncio  # the optional `redis` extra

        self.url = url
        self.prefix = prefix
        self.heartbeat = heartbeat_ms / 1000.0
        self.ttl_ms = ttl_ms
        self._snapshot = snapshot
        self._client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._lock = asyncio.Lock()
        self._tick = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        self._registered: Optional[str] = None
        self._up_announced = False
        self._announced: Optional[Tuple] = None
        self._failing = False

    @property
    def channel(self) -> str:
        """The events channel, ``<prefix>:workers``."""
        return f"{self.prefix}:workers"

    def key(self, name: str) -> str:
        """The record key, ``<prefix>:worker:<name>``."""
        return f"{self.prefix}:worker:{name}"

    def start(self) -> None:
        """Registers at once, then heartbeats in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="duplex registry heartbeat")

    def refresh_now(self) -> None:
        """Writes a fresh snapshot soon instead of at the next heartbeat."""
        self._tick.set()

    async def refresh(self) -> None:
        """Writes a fresh snapshot now and returns when it is written (or failed)."""
        await self._beat()

    async def stop(self) -> None:
        """Stops the heartbeat, deletes the key and publishes ``down``; closes the client."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self._lock:
            name = self._registered
            if name is not None:
                try:
                    await self._client.delete(self.key(name))
                    await self._client.publish(self.channel, dumps({"event": "down", "name": name}))
                    log.info("deregistered worker %s", name)
                except Exception as exc:
                    log.warning("could not deregister worker %s (its record expires after the TTL): %s", name, exc)
                self._registered = None
        try:
            await self._client.aclose()
        except Exception:
            pass

    async def _run(self) -> None:
        while True:
            await self._beat()
            try:
                await asyncio.wait_for(self._tick.wait(), self.heartbeat)
            except asyncio.TimeoutError:
                pass
            self._tick.clear()

    async def _beat(self) -> None:
        async with self._lock:
            record = dict(self._snapshot())
            record["updated_at"] = now_ms()
            name = record["name"]
            key = self.key(name)
            try:
                payload = dumps(record)
                if self._registered is not None and self._registered != name:
                    # Renamed: do not leave the old record behind until it expires.
                    await self._client.delete(self.key(self._registered))
                    self._up_announced = False
                existed = await self._client.set(key, payload, px=self.ttl_ms, xx=True)
                if not existed:
                    await self._client.set(key, payload, px=self.ttl_ms)
                self._registered = name
                announced = (frozenset(record.get("resident_models", ())), bool(record.get("ready")),
                             frozenset(record.get("capabilities", ())))
                kind = None
                if not existed or not self._up_announced:
                    kind = "up"
                elif announced != self._announced:
                    kind = "update"
                if kind is not None:
                    await self._client.publish(self.channel, dumps({"event": kind, "name": name}))
                    self._up_announced = True
                    self._announced = announced
                    log.debug("published %s for %s", kind, name)
                if self._failing:
                    log.info("registry heartbeat recovered")
                    self._failing = False
            except Exception as exc:
                log.log(logging.DEBUG if self._failing else logging.WARNING,
                        "registry heartbeat failed; retrying at the next heartbeat: %s", exc)
                self._failing = True
