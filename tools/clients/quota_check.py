"""Drives a Duplex server's per-key limits (`quotas:`) with the clients people use (the
`websockets` library, the `openai` SDK for speech and the Realtime API), as two API keys.

    python quota_check.py BASE_URL KEY_A KEY_B

The server must run with `quotas.sessions: 1`, `quotas.messages_per_s: 5` and
`quotas.audio_out_s_per_min: 2`. Prints one JSON object of observations; the Swift test
(QuotaIntegrationTests) asserts on it.
"""
import asyncio
import json
import sys
import urllib.request

import openai
import websockets
from openai import AsyncOpenAI, OpenAI

BASE, KEY_A, KEY_B = sys.argv[1], sys.argv[2], sys.argv[3]
WS = BASE.replace("http://", "ws://")


async def recv(ws, timeout=60):
    message = await asyncio.wait_for(ws.recv(), timeout)
    return json.loads(message) if isinstance(message, str) else {"type": "binary", "bytes": len(message)}


async def until(ws, wanted, seen=None):
    while True:
        message = await recv(ws)
        if seen is not None:
            seen.append(message)
        if message["type"] == wanted:
            return message


async def speak(ws, text):
    """Sends text; returns (frames, tts_end, errors)."""
    await ws.send(json.dumps({"type": "text", "text": text, "is_final": True}))
    frames, errors = 0, []
    while True:
        message = await recv(ws)
        if message["type"] == "binary" or message["type"] == "audio":
            frames += 1
        elif message["type"] == "error":
            errors.append(message)
        elif message["type"] == "tts_end":
            return frames, message, errors


async def websocket_checks(report):
    auth_a = {"Authorization": "Bearer " + KEY_A}
    async with websockets.connect(WS + "/ws", additional_headers=auth_a) as first:
        report["a_first"] = (await recv(first))["type"]
        await first.send(json.dumps({"type": "start", "audio_format": "binary"}))
        await until(first, "session_start")

        # A second session of the same key: refused in protocol v1's shape, then ended.
        async with websockets.connect(WS + "/ws", additional_headers=auth_a) as second:
            messages = []
            try:
                while True:
                    messages.append(await recv(second, 30))
            except websockets.exceptions.ConnectionClosed:
                pass
            report["a_second"] = messages

        # The other key is not affected.
        async with websockets.connect(WS + "/ws?token=" + KEY_B) as other:
            report["b_first"] = (await recv(other))["type"]

        # 30 messages at once: 5 a second are handled (each an unknown type: INVALID_MESSAGE),
        # the rest dropped after one RATE_LIMITED notice.
        for index in range(30):
            await first.send(json.dumps({"type": "bogus", "n": index}))
        seen = []
        await until(first, "error", seen)
        while not any(m.get("code") == "RATE_LIMITED" for m in seen):
            await until(first, "error", seen)
        report["flood_before_notice"] = [m.get("code") for m in seen]
        report["flood_notice"] = next(m for m in seen if m.get("code") == "RATE_LIMITED")
        await asyncio.sleep(1.5)  # the bucket refills (5 a second)
        await first.send(json.dumps({"type": "sentinel"}))
        late = []
        while True:
            message = await until(first, "error", late)
            if "sentinel" in message.get("message", ""):
                break
        report["flood_after_notice"] = [m.get("code") for m in late]

        # Reply audio: 2 s a minute. The first reply is spoken (and overdraws the budget);
        # the next is refused before it speaks.
        frames, end, errors = await speak(first, "This first reply is long enough to use up the whole budget of two seconds.")
        report["reply_1"] = {"frames": frames, "reason": end["reason"], "errors": errors}
        frames, end, errors = await speak(first, "And a second one.")
        report["reply_2"] = {"frames": frames, "reason": end["reason"], "errors": errors}

    # The same key over HTTP, with the openai SDK: 429, rate_limit_exceeded, Retry-After.
    client_a = OpenAI(api_key=KEY_A, base_url=BASE + "/v1", max_retries=0)
    try:
        client_a.audio.speech.create(model="tts-1", voice="alloy", input="Hello.", response_format="wav")
        report["speech_a"] = "spoken"
    except openai.RateLimitError as error:
        report["speech_a"] = {
            "status": error.status_code, "code": error.code, "retry_after": error.response.headers.get("retry-after"),
            "message": error.message,
        }
    client_b = OpenAI(api_key=KEY_B, base_url=BASE + "/v1", max_retries=0)
    report["speech_b_bytes"] = len(client_b.audio.speech.create(model="tts-1", voice="alloy", input="Hello.", response_format="wav").content)

    # The Realtime API: a second session of key B (one open) gets OpenAI's rate-limit error.
    async with websockets.connect(WS + "/ws?token=" + KEY_B) as held:
        await recv(held)
        realtime = AsyncOpenAI(api_key=KEY_B, base_url=BASE + "/v1", max_retries=0)
        async with realtime.realtime.connect(model="gpt-realtime") as conn:
            event = await asyncio.wait_for(conn.recv(), 30)
            report["realtime_b"] = {"type": event.type, "error_type": getattr(event.error, "type", None), "code": getattr(event.error, "code", None),
                                    "message": getattr(event.error, "message", None)}


def metrics():
    with urllib.request.urlopen(BASE + "/metrics", timeout=30) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("duplex_rate_limited_total{"):
            labels, value = line.rsplit(" ", 1)
            limit = labels.split('limit="', 1)[1].split('"', 1)[0]
            counts[limit] = float(value)
    return counts


def main():
    report = {}
    asyncio.run(websocket_checks(report))
    report["metrics"] = metrics()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
