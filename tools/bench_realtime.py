#!/usr/bin/env python3
"""Speech-to-speech latency of the OpenAI Realtime API (/v1/realtime, through the `openai`
SDK's connection) against Duplex's own WebSocket protocol v1 (/ws), on the same recorded
clips, measured at the client: the end of the speech as sent → the first reply audio received.

    .build/release/duplex serve &        # Piper voice, Silero VAD, Whisper, echo responder
    .deps/venv/bin/python tools/bench_realtime.py --port 8080 --turns 10

Both protocols stream the same 24 kHz clips in real time (20 ms chunks) followed by silence;
turns alternate between the protocols so that drift on the machine hits both alike.
"""

import argparse
import asyncio
import base64
import json
import statistics
import time

import numpy as np
import websockets
from openai import AsyncOpenAI
from realtime_e2e import load_clip  # the same clip loading as the SDK tests (tools/ is on sys.path)

RATE = 24_000
CHUNK_MS = 20
# A turn is over once its reply ended and nothing came for this long.
QUIET_S = 2.0
# Recorded sentences heard as one turn ("It was the best of times, it was the worst of times").
# (The clip's next sentence has a pause the end-of-turn model takes as the end of a turn.)
CLIPS = [("two_cities.wav", 0.0, 4.6)]



def speech_end(pcm):
    """Byte offset where the speech ends: the end of the last 20 ms window above -40 dBFS."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    window = RATE // 50
    loud = [i for i in range(0, len(samples) - window, window) if np.sqrt(np.mean(samples[i : i + window] ** 2)) > 328]
    return 2 * (loud[-1] + window) if loud else len(pcm)


async def stream(send, pcm, silence_ms):
    """Sends `pcm` then `silence_ms` of silence at real-time pace; returns when the chunk
    holding the end of the speech left (monotonic seconds)."""
    step = 2 * RATE * CHUNK_MS // 1000
    audio = pcm + bytes(2 * RATE * silence_ms // 1000)
    end_byte = speech_end(pcm)
    started = time.monotonic()
    speech_end_at = None
    for index, offset in enumerate(range(0, len(audio), step)):
        await send(audio[offset : offset + step])
        if speech_end_at is None and offset + step >= end_byte:
            speech_end_at = time.monotonic()
        delay = started + (index + 1) * CHUNK_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return speech_end_at


async def realtime_turn(conn, pcm):
    first_audio = None
    speech_end_holder = {}

    async def send(chunk):
        await conn.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})

    async def sender():
        speech_end_holder["t"] = await stream(send, pcm, 1500)

    task = asyncio.create_task(sender())
    responses = 0
    while True:
        try:
            data = await asyncio.wait_for(conn.recv_bytes(), QUIET_S if responses else 60)
        except asyncio.TimeoutError:
            break
        now = time.monotonic()
        if first_audio is None and b'"response.output_audio.delta"' in data:
            first_audio = now
        elif b'"response.done"' in data:
            responses += 1
        elif b'"type":"error"' in data:
            raise RuntimeError(data)
    await task
    return (first_audio - speech_end_holder["t"]) * 1000, responses


async def v1_turn(ws, pcm):
    first_audio = None
    holder = {}

    async def sender():
        holder["t"] = await stream(ws.send, pcm, 1500)

    task = asyncio.create_task(sender())
    responses = 0
    while True:
        try:
            message = await asyncio.wait_for(ws.recv(), QUIET_S if responses else 60)
        except asyncio.TimeoutError:
            break
        now = time.monotonic()
        if isinstance(message, bytes):
            if first_audio is None:
                first_audio = now
            continue
        data = json.loads(message)
        if data["type"] == "tts_end":
            responses += 1
        if data["type"] == "error":
            raise RuntimeError(data)
    await task
    return (first_audio - holder["t"]) * 1000, responses


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--turns", type=int, default=10, help="turns per protocol")
    parser.add_argument("--testdata", default=".deps/testdata")
    parser.add_argument("--clip", action="append", default=[], metavar="NAME.wav@START-END",
                        help="a recorded clip to use (repeatable; seconds), e.g. beckett.wav@0.2-1.55")
    args = parser.parse_args()
    chosen = CLIPS
    if args.clip:
        chosen = []
        for spec in args.clip:
            name, _, span = spec.partition("@")
            start, _, end = span.partition("-")
            chosen.append((name, float(start), float(end)))
    clips = [load_clip(f"{args.testdata}/{name}", start, end) for name, start, end in chosen]

    client = AsyncOpenAI(api_key="not-needed", base_url=f"http://{args.host}:{args.port}/v1")
    results = {"realtime": [], "v1": []}
    async with client.realtime.connect(model="gpt-realtime") as conn, websockets.connect(
        f"ws://{args.host}:{args.port}/ws", max_size=None, ping_interval=None
    ) as ws:
        await conn.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {
            "type": "server_vad", "create_response": True, "interrupt_response": True}}}}})
        await ws.send(json.dumps({"type": "start", "mode": "conversation", "input_sample_rate": RATE}))
        while json.loads(await ws.recv())["type"] != "session_start":
            pass
        for turn in range(args.turns):
            pcm = clips[turn % len(clips)]
            realtime, realtime_replies = await realtime_turn(conn, pcm)
            v1, v1_replies = await v1_turn(ws, pcm)
            valid = realtime_replies == 1 and v1_replies == 1 and realtime > 0 and v1 > 0
            print(f"turn {turn + 1}: realtime {realtime:.1f} ms ({realtime_replies} replies), v1 {v1:.1f} ms ({v1_replies} replies)"
                  + ("" if valid else " — not counted (the clip was not heard as one turn)"), flush=True)
            if valid:
                results["realtime"].append(realtime)
                results["v1"].append(v1)
    for name, values in results.items():
        print(f"{name}: n={len(values)} p50={statistics.median(values):.1f} ms p95={percentile(values, 95):.1f} ms "
              f"max={max(values):.1f} ms")
    diffs = [a - b for a, b in zip(results["realtime"], results["v1"])]
    print(f"realtime - v1 per turn: median {statistics.median(diffs):+.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
