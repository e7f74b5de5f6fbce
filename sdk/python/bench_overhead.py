"""Benchmarks of the Python worker SDK.

1. The SDK's own cost per 20 ms frame, with an instant dummy model, unpaced:
   - ``pipeline``: framing, message building and emission bookkeeping (gate, pacer
     checks, counters) into a no-op writer — no gRPC;
   - ``grpc``: the same through a real gRPC stream over loopback to a client in another
     process; reported as worker-process CPU time per frame (event loop, gRPC core threads
     and the inference thread together) and wall time per frame.
2. The reference Piper adapter, in process and unpaced: first-audio latency (request sent →
   first frame received) and real-time factor (synthesis time / audio duration).

Run from the repository root::

    .deps/venv/bin/python sdk/python/bench_overhead.py [--voice PATH.onnx] [--text "..."] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

from duplex_worker import Model, WorkerConfig  # noqa: E402
from duplex_worker.executor import InferenceExecutor  # noqa: E402
from duplex_worker.manager import LoadedModel  # noqa: E402
from duplex_worker.options import VoiceOptions  # noqa: E402
from duplex_worker.pipeline import SynthesisPipeline, SynthesisRun  # noqa: E402
from duplex_worker.proto import tts_pb2 as pb  # noqa: E402
from duplex_worker.proto import tts_pb2_grpc as pbg  # noqa: E402
from duplex_worker.testing import WorkerThread  # noqa: E402

DEFAULT_VOICE = os.path.join(HERE, "..", "..", "voicepacks", "piper", "piper-en-us-joe", "en_US-joe-medium.onnx")
DEFAULT_TEXT = ("Hello there, thanks for calling. The weather today is mild, with a light breeze from the west. "
                "Is there anything else I can help you with?")


class InstantModel(Model):
    """Returns ``seconds`` of low-level noise per segment at once (no inference cost)."""

    def __init__(self, seconds: float = 60.0, rate: int = 48_000) -> None:
        super().__init__(f"instant-{rate}", sample_rate=rate)
        self.audio = (np.random.default_rng(0).standard_normal(int(seconds * rate)) * 0.05).astype(np.float32)

    def synthesize(self, text, options):
        yield self.audio, self.sample_rate


async def bench_pipeline(rate: int, seconds: float) -> tuple[float, float]:
    """Wall µs per frame of the whole pipeline (producer on the inference thread: gain,
    limiter, s16 conversion, framing, message building; emitter: gate, counters) into a
    no-op writer; and the number of frames."""
    executor = InferenceExecutor(1)
    model = InstantModel(seconds, rate)
    loaded = LoadedModel(model, gain=1.5, load_seconds=0, warmup_seconds=0)
    count = 0

    async def write(frame: bytes) -> None:
        nonlocal count
        count += 1

    run = SynthesisRun()
    pipeline = SynthesisPipeline(run, loaded, VoiceOptions(), executor, "bench", paced=False)
    start = time.perf_counter()
    await pipeline.execute("Benchmark text.", True, _empty(), write)
    wall = time.perf_counter() - start
    executor.shutdown()
    frames = count - 1
    return wall / frames * 1e6, frames


async def _empty():
    return
    yield  # pragma: no cover


def bench_grpc(seconds: float) -> tuple[float, float, int]:
    """Worker CPU µs/frame and wall µs/frame through gRPC to a client process."""
    config = WorkerConfig(port=0, paced=False, warmup=False)
    with WorkerThread([InstantModel(seconds)], config) as worker:
        client = [sys.executable, os.path.abspath(__file__), "--client", str(worker.port)]
        subprocess.run(client + ["warmup"], check=True, capture_output=True, text=True)
        before = resource.getrusage(resource.RUSAGE_SELF)
        out = subprocess.run(client, check=True, capture_output=True, text=True).stdout.split()
        after = resource.getrusage(resource.RUSAGE_SELF)
    frames = int(out[0])
    stream_seconds = float(out[1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / frames * 1e6, stream_seconds / frames * 1e6, frames


def client_main(port: int, warmup: bool) -> None:
    """The client process of :func:`bench_grpc`: reads one synthesis, prints frames and time."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pbg.TTSServiceStub(channel)
    stub.StartSession(pb.StartSessionRequest(session_id="bench"))
    start = time.perf_counter()
    frames = 0
    for frame in stub.Synthesize(iter([pb.TextChunk(session_id="bench", text="Benchmark text.", is_final=True)])):
        frames += 0 if frame.is_final else 1
        if warmup and frames > 200:
            break
    print(frames, time.perf_counter() - start)


def bench_piper(voice: str, text: str, runs: int) -> None:
    from duplex_worker.examples.piper import PiperModel

    config = WorkerConfig(port=0, paced=False)
    load_start = time.perf_counter()
    with WorkerThread([PiperModel(voice)], config) as worker:
        ready = time.perf_counter() - load_start
        stub = pbg.TTSServiceStub(grpc.insecure_channel(f"127.0.0.1:{worker.port}"))
        stub.StartSession(pb.StartSessionRequest(session_id="piper"))
        firsts, rtfs = [], []
        for _ in range(runs):
            start = time.perf_counter()
            first = None
            frames = 0
            for frame in stub.Synthesize(iter([pb.TextChunk(session_id="piper", text=text, is_final=True)])):
                if first is None:
                    first = time.perf_counter() - start
                frames += 0 if frame.is_final else 1
            wall = time.perf_counter() - start
            firsts.append(first * 1000)
            rtfs.append(wall / (frames * 0.020))
        metrics = dict(stub.GetCapabilities(pb.GetCapabilitiesRequest()).metrics)
    print(f"piper  voice {os.path.basename(voice)}, {len(text)} characters, {frames * 0.020:.2f} s of audio, {runs} runs")
    print(f"piper  load + warmup              {ready * 1000:8.0f} ms")
    print(f"piper  first audio (client)       {statistics.median(firsts):8.1f} ms median  (min {min(firsts):.1f}, max {max(firsts):.1f})")
    print(f"piper  whole reply RTF (unpaced)  {statistics.median(rtfs):8.3f}    (wall time / audio duration)")
    print(f"piper  worker rtf_p50             {metrics['rtf_p50']:8.3f}    (inference per segment)")
    print(f"piper  worker first_audio_p50_ms  {metrics['first_audio_p50_ms']:8.1f} ms")


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "--client":
        client_main(int(sys.argv[2]), len(sys.argv) > 3)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", default=DEFAULT_VOICE, help="Piper .onnx voice")
    parser.add_argument("--text", default=DEFAULT_TEXT)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per overhead run")
    parser.add_argument("--repeat", type=int, default=5, help="overhead runs per figure")
    parser.add_argument("--skip-piper", action="store_true")
    args = parser.parse_args()

    # Each figure is the median (and best) of --repeat runs: a loaded machine makes single runs noisy.
    for rate in (48_000, 22_050):
        asyncio.run(bench_pipeline(rate, 2.0))  # warm caches (filter tables, BLAS, imports)
        runs = [asyncio.run(bench_pipeline(rate, args.seconds)) for _ in range(args.repeat)]
        per_frame = [r[0] for r in runs]
        label = "no resampling" if rate == 48_000 else "22050->48000 resampling"
        print(f"sdk    pipeline into a no-op writer ({label}): {statistics.median(per_frame):6.1f} µs/frame "
              f"median, {min(per_frame):6.1f} best  ({runs[0][1]} frames x {args.repeat})")
    runs = [bench_grpc(args.seconds) for _ in range(args.repeat)]
    cpu = [r[0] for r in runs]
    wall = [r[1] for r in runs]
    print(f"sdk    through gRPC (loopback, client process): {statistics.median(cpu):6.1f} µs CPU/frame in the worker "
          f"median ({min(cpu):.1f} best), {statistics.median(wall):6.1f} µs wall/frame  "
          f"({runs[0][2]} frames x {args.repeat}; real time is 20000 µs/frame)")
    if not args.skip_piper:
        if os.path.exists(args.voice):
            bench_piper(args.voice, args.text, args.runs)
        else:
            print(f"piper  skipped: no voice at {args.voice}")


if __name__ == "__main__":
    main()
