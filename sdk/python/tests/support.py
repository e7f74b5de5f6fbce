"""Shared helpers: an in-process worker on a free port and a synchronous gRPC client."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import unittest
from typing import Iterable, List, Optional, Tuple

import grpc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from duplex_worker.config import WorkerConfig  # noqa: E402
from duplex_worker.errors import CODE_KEY  # noqa: E402
from duplex_worker.proto import tts_pb2 as pb  # noqa: E402
from duplex_worker.proto import tts_pb2_grpc as pbg  # noqa: E402
from duplex_worker.testing import SineModel, WorkerThread  # noqa: E402

# Expected failures (e.g. a model raising on purpose) are logged as warnings; keep test output clean.
logging.getLogger("duplex_worker").setLevel(logging.ERROR)

__all__ = ["pb", "pbg", "SineModel", "WorkerConfig", "WorkerCase", "free_port", "error_of", "Collector"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_of(call) -> Tuple[grpc.StatusCode, Optional[str]]:
    """Runs ``call()`` expecting a gRPC failure; returns (status, duplex-error-code)."""
    try:
        call()
    except grpc.RpcError as error:
        code = dict(error.trailing_metadata() or ()).get(CODE_KEY)
        return error.code(), code
    raise AssertionError("the call succeeded")


def chunks(session_id: str, *texts: str, synthesis_id: str = "") -> Iterable:
    """TextChunks for ``texts``, the last one final."""
    for i, text in enumerate(texts):
        yield pb.TextChunk(session_id=session_id, text=text, is_final=i == len(texts) - 1, sequence_number=i + 1,
                           synthesis_id=synthesis_id if i == 0 else "")


class Collector:
    """Reads a Synthesize stream on a thread, timestamping each frame."""

    def __init__(self, stub, session_id: str, *texts: str, synthesis_id: str = "") -> None:
        self.call = stub.Synthesize(chunks(session_id, *texts, synthesis_id=synthesis_id))
        self.frames: List[Tuple[float, object]] = []
        self.error: Optional[grpc.RpcError] = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for frame in self.call:
                self.frames.append((time.monotonic(), frame))
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.done.set()

    def wait_frames(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.frames) < count:
            if self.done.is_set() or time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.frames)} frames arrived (wanted {count})")
            time.sleep(0.002)

    def join(self, timeout: float = 10.0) -> List[object]:
        if not self.done.wait(timeout):
            raise AssertionError("the stream did not end")
        return [frame for _, frame in self.frames]


class WorkerCase(unittest.TestCase):
    """Starts one worker per test class (``models()`` and ``config`` set by subclasses)."""

    config_overrides: dict = {}

    @classmethod
    def models(cls) -> list:
        return [SineModel()]

    @classmethod
    def setUpClass(cls) -> None:
        config = WorkerConfig(port=0, **cls.config_overrides)
        cls.worker = WorkerThread(cls.models(), config).start()
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.worker.port}")
        cls.stub = pbg.TTSServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.channel.close()
        cls.worker.stop()

    _counter = 0

    def new_session(self, model_id: str = "", **options: str) -> str:
        type(self)._counter += 1
        session_id = f"{type(self).__name__}-{self._testMethodName}-{self._counter}"
        response = self.stub.StartSession(pb.StartSessionRequest(session_id=session_id, model_id=model_id, options=options))
        self.assertTrue(response.success)
        self.addCleanup(lambda: self.stub.EndSession(pb.EndSessionRequest(session_id=session_id)))
        return session_id

    def synthesize(self, session_id: str, *texts: str, synthesis_id: str = "") -> list:
        return list(self.stub.Synthesize(chunks(session_id, *texts, synthesis_id=synthesis_id), timeout=20))

    def metrics(self) -> dict:
        return dict(self.stub.GetCapabilities(pb.GetCapabilitiesRequest()).metrics)

    def wait_until(self, predicate, timeout: float = 1.0, message: str = "condition") -> float:
        start = time.monotonic()
        while not predicate():
            if time.monotonic() - start > timeout:
                self.fail(f"{message} not met within {timeout} s")
            time.sleep(0.01)
        return time.monotonic() - start
