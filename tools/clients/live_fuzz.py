"""A live fuzz client: random and mutated protocol messages at a running Duplex server, with
real requests interleaved, over the `websockets` library (what many users' clients use).

    python live_fuzz.py WS_URL [--messages N] [--connections C] [--burst K] [--seed S] [--dialect v1|realtime]

Each connection sends bursts of K hostile messages — valid JSON with wrong types, unknown
types and fields, huge and non-finite numbers, deep nesting, lone surrogates, truncated and
invalid UTF-8 (as text frames), binary where text is expected, random bytes, oversize text,
and byte-level mutations of real messages — reading everything the server answers as it
goes. After each burst it makes a real request (v1: a `start` + `text` that must be spoken to
`tts_end` `completed` with audio; realtime: `session.update` that must be answered by
`session.updated`). A connection the server closes is counted by close code and replaced.
Prints one JSON report: messages sent, server messages and errors received, probes passed
and failed, closes by code, messages per second. The Swift test asserts on it.
"""
import argparse
import asyncio
import json
import random
import sys
import time

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("--messages", type=int, default=100_000)
parser.add_argument("--connections", type=int, default=4)
parser.add_argument("--burst", type=int, default=2000)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--dialect", choices=["v1", "realtime"], default="v1")
args = parser.parse_args()

V1_SEEDS = [
    {"type": "start", "model_id": "sine-440", "speed": 1.0, "audio_format": "binary", "mode": "tts"},
    {"type": "text", "text": "Hello there.", "is_final": False},
    {"type": "control", "command": "PAUSE"},
    {"type": "control", "command": "RESUME"},
    {"type": "start", "mode": "conversation", "input_sample_rate": 16000},
]
REALTIME_SEEDS = [
    {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}},
    {"type": "input_audio_buffer.append", "audio": "AAAAAA=="},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}},
    {"type": "response.cancel"},
]
SEEDS = V1_SEEDS if args.dialect == "v1" else REALTIME_SEEDS
WRONG_VALUES = [None, True, False, 0, -1, 2**63, -(2**64), 1e308, 3.5, "", "x" * 5000, [], {}, [1, [2, [3]]],
                {"nested": {"deeper": None}}, "\u0000", "☃" * 100]


def wrong_typed(rng):
    """A known message with one or more fields replaced by values of the wrong type."""
    message = dict(rng.choice(SEEDS))
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(list(message.keys()) + ["type", "extra", "text", "command", "speed", "audio"])
        message[key] = rng.choice(WRONG_VALUES + [rng.choice(["start", "text", "control", "stop", "session.update"])])
    return json.dumps(message)


def hostile(rng):
    """One hostile message that must not end the connection: (payload, is_text)."""
    kind = rng.randrange(14)
    if kind <= 2:
        return wrong_typed(rng), True
    if kind == 3:
        return json.dumps({"type": "".join(rng.choice("abcxyz._") for _ in range(rng.randint(0, 20)))}), True
    if kind == 4:  # huge and non-finite numbers (not strict JSON; some parsers accept them)
        return rng.choice(['{"type":"start","speed":1e400}', '{"type":"start","speed":NaN}', '{"type":"start","speed":-Infinity}',
                           '{"type":"start","speed":' + "9" * 400 + "}", '{"type":"text","text":"a","is_final":1e999}']), True
    if kind == 5:  # deep nesting
        depth = rng.choice([100, 600, 5000, 50000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        return opener * depth + "1" + closer * depth, True
    if kind == 6:  # a lone surrogate escape, or control characters
        return rng.choice(['{"type":"text","text":"\\ud800","is_final":true}', '{"type":"text","text":"\\udfff\\ud800x"}',
                           '{"type":"\\u0000start"}', '{"type":"text","text":"a\\u0000b","is_final":false}']), True
    if kind == 7:  # UTF-8 cut inside a character, in a binary frame (the text-frame case closes: see closing())
        data = json.dumps({"type": "text", "text": "héllo wörld ☃"}, ensure_ascii=False).encode()
        return data[: data.index("☃".encode()) + 1], False
    if kind == 8:  # binary where text is expected
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 4000))), False
    if kind == 9:  # random printable garbage
        return "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randint(0, 200))), True
    if kind == 10:  # truncated JSON
        text = json.dumps(rng.choice(SEEDS))
        return text[: rng.randrange(len(text))], True
    if kind == 11:  # oversize text (above the default 1 MiB limit now and then)
        return json.dumps({"type": "text", "text": "a" * (1_100_000 if rng.random() < 0.02 else 70_000)}), True
    if kind == 12:  # byte-level mutations of a real message, kept valid UTF-8
        data = bytearray(json.dumps(rng.choice(SEEDS)).encode())
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            operation = rng.randrange(3)
            if operation == 0:
                data[position] = rng.randrange(32, 127)
            elif operation == 1:
                del data[position]
            else:
                data.insert(position, rng.choice(b'{}[]":,0-e.\\'))
        return data.decode("utf-8", "replace"), True
    # non-object JSON values
    return rng.choice(["null", "[]", "1", '"start"', "true", "[{\"type\":\"start\"}]"]), True


def closing(rng):
    """Truncated or invalid UTF-8 in a text frame: the server must close with 1007."""
    data = json.dumps({"type": "text", "text": "héllo wörld ☃"}, ensure_ascii=False).encode()
    return rng.choice([data[: data.index("☃".encode()) + 1], b'{"type":"text","text":"\xff\xfe"}', b"\xc3"])


class Report:
    def __init__(self):
        self.sent = 0
        self.received = 0
        self.errors = 0
        self.error_codes = {}
        self.probes_passed = 0
        self.probes_failed = []
        self.closes = {}
        self.connections = 0


async def reader(ws, report, inbox):
    async for message in ws:
        report.received += 1
        if isinstance(message, str):
            try:
                event = json.loads(message)
            except ValueError:
                continue
            if event.get("type") == "error":
                report.errors += 1
                code = event.get("code") or (event.get("error") or {}).get("code") or "?"
                report.error_codes[code] = report.error_codes.get(code, 0) + 1
            await inbox.put(event)
        else:
            await inbox.put(len(message))


async def probe(ws, inbox, index):
    """A real request on a fuzzed connection; returns None on success or why it failed."""
    while not inbox.empty():
        inbox.get_nowait()
    if args.dialect == "v1":
        await ws.send(json.dumps({"type": "control", "command": "RESUME"}))
        await ws.send(json.dumps({"type": "start", "model_id": "sine-440", "speed": 1.0, "audio_format": "binary", "mode": "tts"}))
        await ws.send(json.dumps({"type": "text", "text": f"Probe number {index}.", "is_final": True}))
        frames, deadline = 0, time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(inbox.get(), timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if isinstance(event, int):
                frames += 1
            elif event.get("type") == "tts_end":
                # Earlier fuzz may have queued a reply or two: wait for ours (it has frames).
                if event.get("reason") == "completed" and frames > 0:
                    return None
                frames = 0
        return f"no completed reply with audio within 60 s (frames {frames})"
    await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": f"Probe {index}."}}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            event = await asyncio.wait_for(inbox.get(), timeout=deadline - time.monotonic())
        except asyncio.TimeoutError:
            break
        if isinstance(event, dict) and event.get("type") == "session.updated":
            return None
    return "no session.updated within 30 s"


async def connection_loop(worker, quota, report):
    rng = random.Random(args.seed * 1000 + worker)
    headers = {"OpenAI-Beta": "realtime=v1"} if args.dialect == "realtime" and worker % 2 else None
    sent = 0
    while sent < quota:
        report.connections += 1
        async with websockets.connect(args.url, max_size=None, additional_headers=headers, open_timeout=30) as ws:
            inbox = asyncio.Queue()
            reading = asyncio.create_task(reader(ws, report, inbox))
            try:
                while sent < quota:
                    for _ in range(min(args.burst, quota - sent)):
                        payload, _ = hostile(rng)
                        await ws.send(payload)
                        sent += 1
                        report.sent += 1
                    why = await probe(ws, inbox, report.probes_passed + len(report.probes_failed))
                    if why is None:
                        report.probes_passed += 1
                    else:
                        report.probes_failed.append(why)
                    if rng.random() < 0.15 and sent < quota:
                        # Now and then end the connection the hard way, then open a new one.
                        await ws.send(closing(rng), text=True)
                        sent += 1
                        report.sent += 1
                        await asyncio.wait_for(ws.wait_closed(), timeout=30)
                        code = ws.close_code if ws.close_code is not None else 1006
                        report.closes[str(code)] = report.closes.get(str(code), 0) + 1
                        break
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                report.closes[str(code)] = report.closes.get(str(code), 0) + 1
            finally:
                reading.cancel()


async def main():
    report = Report()
    started = time.monotonic()
    quota = args.messages // args.connections
    await asyncio.gather(*(connection_loop(i, quota, report) for i in range(args.connections)))
    elapsed = time.monotonic() - started
    print(json.dumps({
        "sent": report.sent, "received": report.received, "errors": report.errors, "error_codes": report.error_codes,
        "probes_passed": report.probes_passed, "probes_failed": report.probes_failed, "closes": report.closes,
        "connections": report.connections, "seconds": round(elapsed, 1), "messages_per_second": round(report.sent / elapsed),
    }))


asyncio.run(main())
