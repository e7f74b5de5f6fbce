"""Drives a Duplex Wyoming server with the `wyoming` package's own async TCP client, as Home
Assistant does, and prints what happened as one JSON object (Tests/DuplexSpeechTests/WyomingServerTests.swift
asserts on it).

    python tools/wyoming_client_check.py --port 10200 --voice piper-en-us-joe \
        --clip .deps/testdata/beckett.wav --long-clip .deps/testdata/two_cities.wav
"""

import argparse
import asyncio
import json
import math
import struct
import time
import wave

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop, wav_to_chunks
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

TIMEOUT = 120


def rms(pcm: bytes) -> float:
    count = len(pcm) // 2
    if count == 0:
        return 0.0
    samples = struct.unpack(f"<{count}h", pcm[: count * 2])
    return math.sqrt(sum(s * s for s in samples) / count) / 32768


async def read(client):
    return await asyncio.wait_for(client.read_event(), timeout=TIMEOUT)


async def collect_audio(client, until):
    """Reads events until one of type `until`; returns (types, audio start data, pcm)."""
    types, start, pcm = [], None, b""
    while True:
        event = await read(client)
        if event is None:
            types.append("<eof>")
            return types, start, pcm
        types.append(event.type)
        if AudioStart.is_type(event.type):
            start = event.data
        elif AudioChunk.is_type(event.type):
            pcm += AudioChunk.from_event(event).audio
        elif event.type == "error" and until != "error":
            # A request the server refused ends here (its code shows in the types), instead of
            # waiting for an audio-stop that will not come.
            types.append(f"error:{(event.data or {}).get('code')}")
            return types, start, pcm
        if event.type == until:
            return types, start, pcm


async def transcribe(client, path, samples_per_chunk=1024, rate=None, pcm=None, width=2):
    """Sends a WAV file (or raw PCM) as audio; returns the events up to `transcript`."""
    await client.write_event(Transcribe(language="en").event())
    if pcm is not None:
        await client.write_event(AudioStart(rate=rate, width=width, channels=1).event())
        step = samples_per_chunk * width
        for offset in range(0, len(pcm), step):
            await client.write_event(AudioChunk(rate=rate, width=width, channels=1, audio=pcm[offset : offset + step]).event())
        await client.write_event(AudioStop().event())
    else:
        with wave.open(path, "rb") as wav:
            for message in wav_to_chunks(wav, samples_per_chunk, start_event=True, stop_event=True):
                await client.write_event(message.event())
    events = []
    while True:
        event = await read(client)
        if event is None:
            events.append({"type": "<eof>"})
            return events
        events.append({"type": event.type, "data": event.data})
        if Transcript.is_type(event.type) or Error.is_type(event.type):
            return events


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--voice", required=True)
    parser.add_argument("--clip", required=True)
    parser.add_argument("--long-clip", required=True)
    args = parser.parse_args()
    out = {}

    def connect():
        return AsyncTcpClient(args.host, args.port)

    async with connect() as client:
        # describe → info, read back through the package's own Info parser.
        await client.write_event(Describe().event())
        info = Info.from_event(await read(client))
        out["tts_programs"] = [p.name for p in info.tts]
        out["voices"] = [v.name for p in info.tts for v in p.voices]
        out["voice_languages"] = {v.name: v.languages for p in info.tts for v in p.voices}
        out["supports_synthesize_streaming"] = [p.supports_synthesize_streaming for p in info.tts]
        out["asr_models"] = [m.name for p in info.asr for m in p.models]
        out["supports_transcript_streaming"] = [p.supports_transcript_streaming for p in info.asr]

        await client.write_event(Ping(text="hi").event())
        pong = await read(client)
        out["pong"] = [pong.type, pong.data.get("text")]

        # synthesize → audio-start, audio-chunks, audio-stop.
        text = "Hello there. The weather is nice today, and the morning train is on time."
        started = time.monotonic()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=args.voice)).event())
        types, start, pcm = await collect_audio(client, "audio-stop")
        out["synth"] = {
            "first": types[0],
            "last": types[-1],
            "chunks": types.count("audio-chunk"),
            "start": start,
            "seconds": len(pcm) / 2 / (start or {}).get("rate", 48000),
            "rms": rms(pcm),
            "wall": time.monotonic() - started,
        }
        # What Whisper hears in it, sent back through the same connection at 48 kHz.
        heard = await transcribe(client, None, samples_per_chunk=4800, rate=48000, pcm=pcm)
        out["synth_heard"] = heard[-1].get("data", {}).get("text", "")

        # Unknown voice: an error, and the connection keeps working.
        await client.write_event(Synthesize(text="Hello.", voice=SynthesizeVoice(name="no-such-voice")).event())
        error = await read(client)
        out["unknown_voice"] = [error.type, error.data.get("code")]
        await client.write_event(Synthesize(text="Still here.").event())
        types, start, pcm = await collect_audio(client, "audio-stop")
        out["after_unknown_voice"] = {"types": [types[0], types[-1]], "seconds": len(pcm) / 2 / 48000, "rms": rms(pcm)}

        # A voice chosen by language only.
        await client.write_event(Synthesize(text="Good morning.", voice=SynthesizeVoice(language="en_US")).event())
        types, start, pcm = await collect_audio(client, "audio-stop")
        out["by_language"] = {"types": [types[0], types[-1]], "seconds": len(pcm) / 2 / 48000}

        # Bad audio format: an error, and the connection keeps working.
        await client.write_event(Transcribe().event())
        await client.write_event(AudioStart(rate=16000, width=3, channels=1).event())
        error = await read(client)
        await client.write_event(AudioStop().event())
        out["bad_format"] = [error.type, error.data.get("code")]

    # Streaming synthesis: audio must arrive before the text ends.
    async with connect() as client:
        chunks = [
            "The morning train is on time today. ",
            "I will be at the station before nine, ",
            "and we can walk to the office together.",
        ]
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=args.voice)).event())
        sent = time.monotonic()
        await client.write_event(SynthesizeChunk(text=chunks[0]).event())
        await client.write_event(SynthesizeChunk(text=chunks[1]).event())
        types = []
        first_audio = None
        while first_audio is None:
            event = await read(client)
            types.append(event.type)
            if AudioChunk.is_type(event.type):
                first_audio = time.monotonic() - sent
        # Only now does the rest of the text go out.
        await client.write_event(SynthesizeChunk(text=chunks[2]).event())
        await client.write_event(Synthesize(text="".join(chunks), voice=SynthesizeVoice(name=args.voice)).event())
        await client.write_event(SynthesizeStop().event())
        more, start, pcm = await collect_audio(client, "synthesize-stopped")
        types += more
        out["stream"] = {
            "first_audio_before_last_chunk": True,
            "first_audio_seconds": first_audio,
            "types": [t for i, t in enumerate(types) if t != "audio-chunk" or (i > 0 and types[i - 1] != "audio-chunk")],
            "chunks": types.count("audio-chunk"),
            "seconds": (types.count("audio-chunk") * 0.02),
        }
        # Empty stream: just synthesize-stopped.
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeStop().event())
        more, _, _ = await collect_audio(client, "synthesize-stopped")
        out["empty_stream"] = more

    # Transcription of recorded human speech (16 kHz, as Home Assistant sends it).
    async with connect() as client:
        events = await transcribe(client, args.clip)
        out["transcribe"] = [e["type"] for e in events]
        out["transcript"] = events[-1].get("data", {}).get("text", "")
        events = await transcribe(client, args.long_clip, samples_per_chunk=4096)
        out["long_transcribe"] = [e["type"] for e in events]
        out["long_chunks"] = [e["data"]["text"] for e in events if e["type"] == "transcript-chunk"]
        out["long_transcript"] = events[-1].get("data", {}).get("text", "")

    # Garbage: error + close, and another client is unaffected.
    async with connect() as bystander:
        reader, writer = await asyncio.open_connection(args.host, args.port)
        writer.write(b"this is not a wyoming event\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=TIMEOUT)
        header = json.loads(line)
        data = json.loads(await reader.readexactly(header["data_length"]))
        rest = await asyncio.wait_for(reader.read(), timeout=TIMEOUT)
        out["garbage"] = {"type": header["type"], "code": data.get("code"), "closed": rest == b""}
        writer.close()
        # Oversize payload: refused before it is read.
        reader, writer = await asyncio.open_connection(args.host, args.port)
        writer.write(json.dumps({"type": "audio-chunk", "payload_length": 1 << 30}).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=TIMEOUT)
        header = json.loads(line)
        data = json.loads(await reader.readexactly(header["data_length"]))
        rest = await asyncio.wait_for(reader.read(), timeout=TIMEOUT)
        out["oversize"] = {"type": header["type"], "code": data.get("code"), "closed": rest == b""}
        writer.close()
        await bystander.write_event(Describe().event())
        out["bystander"] = (await read(bystander)).type

    # A client that vanishes mid-synthesis.
    client = connect()
    await client.connect()
    await client.write_event(Synthesize(text=" ".join(["This reply is long, and the client will leave before it ends."] * 6)).event())
    while True:
        event = await read(client)
        if AudioChunk.is_type(event.type):
            break
    client._writer.transport.abort()
    out["vanished"] = True

    # And the server still serves.
    async with connect() as client:
        await client.write_event(Synthesize(text="Still serving.").event())
        types, start, pcm = await collect_audio(client, "audio-stop")
        out["after_vanish"] = {"types": [types[0], types[-1]], "seconds": len(pcm) / 2 / 48000}

    print(json.dumps(out))


asyncio.run(main())
