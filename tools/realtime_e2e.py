#!/usr/bin/env python3
"""Drives Duplex's OpenAI Realtime API (/v1/realtime) with the official `openai` SDK, as a
user would: `client.realtime.connect(model=...)` against `base_url=http://host:port/v1`.

Each scenario prints one JSON object (what it saw) on stdout; the Swift test
(Tests/DuplexSpeechTests/RealtimeSDKTests.swift) asserts on it.

    realtime_e2e.py --base-url http://127.0.0.1:PORT/v1 --clip two_cities.wav SCENARIO

Scenarios: conversation (server VAD turn, then a barge-in), manual (turn_detection null:
append, commit, response.create), bad (unknown event, malformed JSON, wrong audio format,
then a text turn on the same session), vanish (the client disappears mid-response), beta
(the beta dialect through `client.beta.realtime`).
"""

import argparse
import asyncio
import base64
import json
import sys
import time
import wave

import numpy as np
from openai import AsyncOpenAI

RATE = 24_000
CHUNK_MS = 40


def load_clip(path, start_s, end_s):
    """The clip's [start, end) seconds as 24 kHz s16le bytes (linear interpolation)."""
    with wave.open(path) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    samples = samples[int(start_s * rate) : int(end_s * rate)]
    n_out = int(len(samples) * RATE / rate)
    resampled = np.interp(np.arange(n_out) * rate / RATE, np.arange(len(samples)), samples)
    return np.clip(resampled, -32768, 32767).astype("<i2").tobytes()


def silence(ms):
    return bytes(2 * RATE * ms // 1000)


async def stream(conn, pcm, started=None):
    """Appends `pcm` at the pace it would be recorded (the server refuses audio that runs
    more than 2 s ahead of real time)."""
    step = 2 * RATE * CHUNK_MS // 1000
    started = started or time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), step)):
        await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[offset : offset + step]).decode())
        delay = started + (index + 1) * CHUNK_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def pcm_stats(chunks):
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float64)
    if len(pcm) == 0:
        return {"samples": 0, "rms": 0.0, "peak": 0}
    return {"samples": int(len(pcm)), "rms": float(np.sqrt(np.mean(pcm**2))), "peak": int(np.max(np.abs(pcm)))}


def client_for(args):
    return AsyncOpenAI(api_key="not-needed", base_url=args.base_url)


async def until(conn, wanted, seen, timeout=60):
    """Receives events (recording their types in `seen`) until one of type `wanted`."""
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(conn.recv(), max(0.1, deadline - time.monotonic()))
        seen.append(event.type)
        if event.type == wanted:
            return event
        if event.type == "error":
            raise RuntimeError(f"error event: {event.error}")


async def configure(conn, turn_detection):
    await conn.session.update(session={
        "type": "realtime",
        "instructions": "Answer briefly.",
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": turn_detection},
            "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "alloy"},
        },
    })


SERVER_VAD = {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500, "prefix_padding_ms": 300,
              "create_response": True, "interrupt_response": True}


async def conversation(args):
    out = {}
    question = load_clip(args.clip, 0.0, 4.4)
    interruption = load_clip(args.clip, 4.4, 9.0)
    async with client_for(args).realtime.connect(model="gpt-realtime") as conn:
        seen = []
        created = await until(conn, "session.created", seen)
        out["session_created_model"] = created.session.model
        await configure(conn, SERVER_VAD)
        updated = await until(conn, "session.updated", seen)
        out["updated_turn_detection"] = updated.session.audio.input.turn_detection.type
        out["updated_instructions"] = updated.session.instructions

        # Turn 1: the question, then silence; the whole reply.
        sender = asyncio.create_task(stream(conn, question + silence(1500)))
        audio, deltas, transcript_deltas = [], 0, []
        events = []
        while True:
            event = await asyncio.wait_for(conn.recv(), 60)
            events.append(event.type)
            if event.type == "conversation.item.input_audio_transcription.completed":
                out["transcript"] = event.transcript
                out["transcript_item"] = event.item_id
            elif event.type == "input_audio_buffer.speech_started":
                out["speech_started_ms"] = event.audio_start_ms
            elif event.type == "input_audio_buffer.speech_stopped":
                out["speech_stopped_ms"] = event.audio_end_ms
            elif event.type == "response.output_audio.delta":
                deltas += 1
                audio.append(base64.b64decode(event.delta))
            elif event.type == "response.output_audio_transcript.delta":
                transcript_deltas.append(event.delta)
            elif event.type == "response.output_audio_transcript.done":
                out["reply_transcript"] = event.transcript
            elif event.type == "response.done":
                out["response_status"] = event.response.status
                out["response_output_items"] = len(event.response.output or [])
                break
            elif event.type == "error":
                out.setdefault("errors", []).append(event.error.code)
        await sender
        out["turn1_events"] = events
        out["audio_deltas"] = deltas
        out["audio"] = pcm_stats(audio)
        out["reply_transcript_deltas"] = "".join(transcript_deltas)

        # Turn 2: the question again; while its reply plays, more speech interrupts it.
        await stream(conn, question + silence(900))
        played, events2 = 0, []
        while played < 10:
            event = await asyncio.wait_for(conn.recv(), 60)
            events2.append(event.type)
            if event.type == "response.output_audio.delta":
                played += 1
        talking = asyncio.create_task(stream(conn, interruption + silence(1200)))
        while True:
            event = await asyncio.wait_for(conn.recv(), 60)
            events2.append(event.type)
            if event.type == "input_audio_buffer.speech_started" and "barge_in_speech_started" not in out:
                out["barge_in_speech_started"] = True
            elif event.type == "response.done" and "barge_in_status" not in out:
                out["barge_in_status"] = event.response.status
                out["barge_in_reason"] = event.response.status_details.reason if event.response.status_details else None
            elif event.type == "conversation.item.truncated":
                out["truncated_audio_end_ms"] = event.audio_end_ms
            elif event.type == "conversation.item.input_audio_transcription.completed" and "barge_in_status" in out:
                out["interruption_transcript"] = event.transcript
                break
        await talking
        out["turn2_events"] = events2
    return out


async def manual(args):
    out = {}
    question = load_clip(args.clip, 0.0, 4.4)
    async with client_for(args).realtime.connect(model="gpt-realtime") as conn:
        seen = []
        await until(conn, "session.created", seen)
        await configure(conn, None)
        updated = await until(conn, "session.updated", seen)
        out["turn_detection"] = updated.session.audio.input.turn_detection
        await stream(conn, question + silence(600))
        await conn.input_audio_buffer.commit()
        committed = await until(conn, "input_audio_buffer.committed", seen)
        completed = await until(conn, "conversation.item.input_audio_transcription.completed", seen)
        out["same_item"] = completed.item_id == committed.item_id
        out["transcript"] = completed.transcript
        await conn.response.create()
        out["response_status"], out["audio"] = await response_audio(conn, seen)
        out["events"] = seen
        out["vad_events"] = [e for e in seen if e.startswith("input_audio_buffer.speech")]
    return out


async def text_turn(conn, text, seen):
    """A text message and response.create: the response's status and audio."""
    await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    await until(conn, "conversation.item.added", seen)
    await conn.response.create()
    return await response_audio(conn, seen)


async def response_audio(conn, seen):
    """Reads one response to its end: its status and the stats of its audio."""
    audio = []
    while True:
        event = await asyncio.wait_for(conn.recv(), 60)
        seen.append(event.type)
        if event.type == "response.output_audio.delta":
            audio.append(base64.b64decode(event.delta))
        elif event.type == "response.done":
            return event.response.status, pcm_stats(audio)


async def bad(args):
    out = {"errors": []}
    async with client_for(args).realtime.connect(model="gpt-realtime") as conn:
        seen = []
        await until(conn, "session.created", seen)

        async def next_error():
            while True:
                event = await asyncio.wait_for(conn.recv(), 30)
                if event.type == "error":
                    return {"type": event.error.type, "code": event.error.code, "param": event.error.param, "event_id": event.error.event_id}

        await conn.send({"type": "no.such.event", "event_id": "evt_unknown"})
        out["errors"].append(await next_error())
        await conn._connection.send("{this is not json")
        out["errors"].append(await next_error())
        await conn.send({"type": "session.update", "event_id": "evt_rate",
                         "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}})
        out["errors"].append(await next_error())
        await conn.send({"type": "session.update", "session": {"audio": {"output": {"format": {"type": "audio/pcmu"}}}}})
        out["errors"].append(await next_error())
        await conn.send({"type": "input_audio_buffer.append", "audio": "***"})
        out["errors"].append(await next_error())
        # The session goes on: a text turn is answered.
        out["after_status"], out["after_audio"] = await text_turn(conn, "Still there?", seen)
    return out


async def vanish(args):
    """Disappears mid-response (the TCP connection is dropped without a close), then a second
    session is served normally."""
    out = {}
    question = load_clip(args.clip, 0.0, 4.4)
    conn = await client_for(args).realtime.connect(model="gpt-realtime").enter()
    seen = []
    await until(conn, "session.created", seen)
    await configure(conn, SERVER_VAD)
    await stream(conn, question + silence(900))
    await until(conn, "response.output_audio.delta", seen)
    conn._connection.transport.abort()
    out["vanished_after"] = seen[-1]
    async with client_for(args).realtime.connect(model="gpt-realtime") as second:
        seen2 = []
        await until(second, "session.created", seen2)
        out["second_status"], out["second_audio"] = await text_turn(second, "Hello again.", seen2)
    return out


async def beta(args):
    out = {}
    # The beta client always connects with wss:// unless websocket_base_url says otherwise.
    client = AsyncOpenAI(api_key="not-needed", base_url=args.base_url, websocket_base_url=args.base_url.replace("http", "ws", 1))
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        types = []

        async def raw():
            data = json.loads(await conn.recv_bytes())
            types.append(data["type"])
            return data

        while (await raw())["type"] != "session.created":
            pass
        await conn.send({"type": "session.update", "session": {"input_audio_format": "pcm16", "output_audio_format": "pcm16",
                                                              "turn_detection": None, "voice": "alloy"}})
        while True:
            data = await raw()
            if data["type"] == "session.updated":
                out["input_audio_format"] = data["session"]["input_audio_format"]
                break
        await conn.send({"type": "conversation.item.create",
                         "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello there."}]}})
        await conn.send({"type": "response.create"})
        audio = []
        while True:
            data = await raw()
            if data["type"] == "response.audio.delta":
                audio.append(base64.b64decode(data["delta"]))
            elif data["type"] == "response.done":
                out["status"] = data["response"]["status"]
                break
        out["types"] = types
        out["audio"] = pcm_stats(audio)
    return out


SCENARIOS = {"conversation": conversation, "manual": manual, "bad": bad, "vanish": vanish, "beta": beta}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--clip", required=True)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    result = asyncio.run(SCENARIOS[args.scenario](args))
    json.dump(result, sys.stdout, default=str)
    print()


if __name__ == "__main__":
    main()
