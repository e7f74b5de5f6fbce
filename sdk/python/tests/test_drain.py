"""Graceful drain: a worker process on SIGTERM finishes its running synthesis and exits 0."""

import os
import signal
import subprocess
import sys
import time
import unittest

import grpc

from .support import Collector, error_of, pb, pbg
from .test_registry import REDIS_SERVER, Events, RedisServer, redis

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DrainTests(unittest.TestCase):
    def start_worker(self, *extra):
        env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        process = subprocess.Popen([sys.executable, "-m", "duplex_worker", "--port", "0", "--log-level", "warning", *extra],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        def cleanup():
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()
        self.addCleanup(cleanup)
        line = process.stdout.readline()
        self.assertRegex(line, r"^LISTENING \d+$", process.stderr.read() if not line else line)
        port = int(line.split()[1])
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.addCleanup(channel.close)
        stub = pbg.TTSServiceStub(channel)
        deadline = time.monotonic() + 10
        while not stub.GetCapabilities(pb.GetCapabilitiesRequest()).ready:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        return process, stub

    def drain(self, *extra, events=None):
        process, stub = self.start_worker(*extra)
        self.assertTrue(stub.StartSession(pb.StartSessionRequest(session_id="s")).success)
        collector = Collector(stub, "s", "One two three. Four five six seven eight nine ten eleven twelve.")
        collector.wait_frames(5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        # Draining: not ready, and no new sessions.
        self.assertFalse(stub.GetCapabilities(pb.GetCapabilitiesRequest()).ready)
        self.assertEqual(error_of(lambda: stub.StartSession(pb.StartSessionRequest(session_id="late"))),
                         (grpc.StatusCode.UNAVAILABLE, "WORKER_UNAVAILABLE"))
        frames = collector.join(10)
        self.assertIsNone(collector.error)
        self.assertEqual(frames[-1].end_reason, pb.END_REASON_COMPLETED)
        # 3 + 9 words of 90 ms tone: 14 + 41 frames, then the end marker.
        self.assertEqual(len(frames), 56)
        self.assertEqual(process.wait(10), 0)
        return frames

    def test_sigterm_finishes_the_running_synthesis_then_exits_0(self):
        frames = self.drain()
        self.assertEqual([f.sequence_number for f in frames], list(range(1, len(frames) + 1)))

    @unittest.skipIf(REDIS_SERVER is None or redis is None, "needs redis-server and the redis package")
    def test_sigterm_with_registry_announces_not_ready_then_down(self):
        server = RedisServer()
        self.addCleanup(server.stop)
        events = Events(server)
        self.addCleanup(events.close)
        self.drain("--redis", server.url, "--name", "drainer", "--heartbeat-ms", "5000")
        seen = events.wait_for("down")
        self.assertEqual(seen[0]["event"], "up")
        self.assertEqual(seen[-1], {"event": "down", "name": "drainer"})
        self.assertIn({"event": "update", "name": "drainer"}, seen[1:-1])
        self.assertIsNone(server.client.get("duplex:worker:drainer"))


if __name__ == "__main__":
    unittest.main()
