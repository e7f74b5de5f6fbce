"""Redis registration against a real redis-server (skipped when /usr/bin/redis-server is absent)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from .support import SineModel, WorkerConfig, free_port
from duplex_worker.testing import WorkerThread

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)

try:
    import redis
except ImportError:  # the optional extra
    redis = None


class RedisServer:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}"
        self.client = redis.Redis(port=self.port, decode_responses=True)
        deadline = time.monotonic() + 5
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(5)
        self.dir.cleanup()


class Events:
    """Collects registry events from a pub/sub subscription."""

    def __init__(self, server: RedisServer, channel: str = "duplex:workers") -> None:
        self.pubsub = server.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)
        self.seen = []

    def wait_for(self, event: str, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.05)
            if message is not None:
                self.seen.append(json.loads(message["data"]))
                if self.seen[-1]["event"] == event:
                    return self.seen
        raise AssertionError(f"no {event!r} event; saw {self.seen}")

    def close(self) -> None:
        self.pubsub.close()


@unittest.skipIf(REDIS_SERVER is None or redis is None, "needs redis-server and the redis package")
class RegistryTests(unittest.TestCase):
    def setUp(self) -> None:
        self.redis = RedisServer()
        self.addCleanup(self.redis.stop)

    def test_register_heartbeat_and_deregister(self):
        events = Events(self.redis)
        self.addCleanup(events.close)
        config = WorkerConfig(port=0, name="py-1", redis_url=self.redis.url, heartbeat_ms=200, registry_ttl_ms=1000)
        worker = WorkerThread([SineModel(), SineModel("sine-gpu", device="cuda:0", tags=["gpu", "zero_shot"])], config)
        worker.start()
        try:
            events.wait_for("up")
            key = "duplex:worker:py-1"
            deadline = time.monotonic() + 3
            while True:   # the record says ready once the default model is warmed up
                record = json.loads(self.redis.client.get(key))
                if record["ready"] or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertTrue(record["ready"])
            ttl = self.redis.client.pttl(key)
            self.assertTrue(0 < ttl <= 1000, ttl)
            self.assertEqual(record["name"], "py-1")
            self.assertEqual(record["address"], f"grpc://127.0.0.1:{worker.port}")
            self.assertEqual(record["capabilities"], ["cpu_ok", "diagnostic", "gpu", "streaming", "zero_shot"])
            self.assertEqual(record["languages"], ["*"])
            self.assertEqual(record["models"], ["sine-440", "sine-gpu"])
            self.assertEqual(record["resident_models"], ["sine-440"])
            self.assertEqual(record["hardware"]["gpu"], "cuda:0")
            self.assertGreaterEqual(record["hardware"]["cpu_cores"], 1)
            self.assertEqual(sorted(record["metrics"]), ["active_sessions", "first_audio_p50_ms", "queue_depth", "rtf_p50"])
            self.assertTrue(record["version"])
            self.assertLessEqual(record["started_at"], record["updated_at"])
            raw = self.redis.client.get(key)
            self.assertEqual(raw, json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
            # Heartbeats refresh the record.
            first_update = record["updated_at"]
            time.sleep(0.45)
            self.assertGreater(json.loads(self.redis.client.get(key))["updated_at"], first_update)
            # A lost key (Redis restarted, expiry) is written again and announced with `up`.
            events.seen.clear()
            self.redis.client.delete(key)
            events.wait_for("up", 2)
            self.assertIsNotNone(self.redis.client.get(key))
            # Loading a model is announced with `update`.
            events.seen.clear()
            worker.call(worker.worker.manager.load("sine-gpu"))
            events.wait_for("update", 2)
            self.assertIn("sine-gpu", json.loads(self.redis.client.get(key))["resident_models"])
        finally:
            events.seen.clear()
            worker.stop()
        seen = events.wait_for("down")
        self.assertEqual(seen[-1], {"event": "down", "name": "py-1"})
        self.assertIsNone(self.redis.client.get(key))

    def test_default_name_is_unique_by_address(self):
        config = WorkerConfig(port=0, redis_url=self.redis.url, heartbeat_ms=200)
        with WorkerThread([SineModel()], config) as worker:
            deadline = time.monotonic() + 3
            key = f"duplex:worker:worker-127.0.0.1-{worker.port}"
            while self.redis.client.get(key) is None:
                self.assertLess(time.monotonic(), deadline, "no record")
                time.sleep(0.02)
            self.assertEqual(self.redis.client.pttl(key) <= 600, True)   # default TTL: 3 heartbeats


if __name__ == "__main__":
    unittest.main()
