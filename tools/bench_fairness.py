"""How one API key's flood of replies affects another key's first audio (fair scheduling of
first clauses across keys, docs/SECURITY.md#per-key-limits).

    python tools/bench_fairness.py ws://127.0.0.1:8080/ws KEY_A KEY_B [--flood 8] [--seconds 30]

Key A runs `--flood` sessions that each ask for short replies back to back (every reply's
first clause is due at once); key B runs one session asking for a reply 0.5 s after the last one ended (`--probe-pause`). Prints
the first-audio figures (text sent → first frame) of each key as JSON. Run it against a
server with `worker.fair_tenants: true` and `false` to compare.
"""
import argparse
import asyncio
import json
import statistics
import time

import websockets

FLOOD_TEXT = "Okay, sure."
PROBE_TEXT = "Here is the answer you asked for."


async def session(url, key, text, stop_at, firsts, pause):
    async with websockets.connect(url + "?token=" + key, max_size=None) as ws:
        await ws.send(json.dumps({"type": "start", "audio_format": "binary"}))
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "session_start":
                break
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            await ws.send(json.dumps({"type": "text", "text": text, "is_final": True}))
            first = None
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    if first is None:
                        first = time.monotonic() - sent
                    continue
                event = json.loads(message)
                if event["type"] == "tts_end":
                    break
                if event["type"] == "error":
                    break
            if first is not None:
                firsts.append(first * 1000)
            if pause:
                await asyncio.sleep(pause)


def figures(values):
    if not values:
        return {"replies": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"replies": len(values), "p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1),
            "max_ms": round(ordered[-1], 1)}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("key_a")
    parser.add_argument("key_b")
    parser.add_argument("--flood", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--probe-pause", type=float, default=0.5)
    args = parser.parse_args()
    stop_at = time.monotonic() + args.seconds
    flood, probe = [], []
    tasks = [session(args.url, args.key_a, FLOOD_TEXT, stop_at, flood, 0) for _ in range(args.flood)]
    tasks.append(session(args.url, args.key_b, PROBE_TEXT, stop_at, probe, args.probe_pause))
    await asyncio.gather(*tasks)
    print(json.dumps({"flood_key_a": figures(flood), "other_key_b": figures(probe), "flood_sessions": args.flood}))


if __name__ == "__main__":
    asyncio.run(main())
