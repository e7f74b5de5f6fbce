"""Drives Duplex's OpenAI audio API with the official `openai` SDK, as a user would.

    python openai_audio_check.py speech BASE_URL OUT_DIR VOICE TEXT
    python openai_audio_check.py transcribe BASE_URL CLIP SHORT_CLIP
    python openai_audio_check.py bad BASE_URL VOICE

Prints one JSON object (the Swift tests read it; a person can too).
"""
import base64
import json
import socket
import sys
import time
import urllib.parse

import openai
from openai import OpenAI


def client(base_url):
    return OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=120)


def speech(base_url, out_dir, voice, text):
    c = client(base_url)
    result = {}
    for fmt in ["wav", "pcm", "opus", "mp3", "flac"]:
        path = f"{out_dir}/speech.{fmt}"
        t0 = time.perf_counter()
        first = None
        size = 0
        with c.audio.speech.with_streaming_response.create(
            model="tts-1", voice=voice, input=text, response_format=fmt
        ) as response:
            content_type = response.headers.get("content-type")
            with open(path, "wb") as f:
                for chunk in response.iter_bytes():
                    if first is None and chunk:
                        first = time.perf_counter()
                    size += len(chunk)
                    f.write(chunk)
        total = time.perf_counter() - t0
        result[fmt] = {"path": path, "bytes": size, "content_type": content_type,
                       "first_byte_ms": round(1000 * (first - t0), 1), "total_ms": round(1000 * total, 1)}
    # Server-sent events: speech.audio.delta chunks then speech.audio.done.
    audio = bytearray()
    types = []
    with c.audio.speech.with_streaming_response.create(
        model="tts-1", voice=voice, input=text, response_format="pcm", stream_format="sse"
    ) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            types.append(event["type"])
            if event["type"] == "speech.audio.delta":
                audio += base64.b64decode(event["audio"])
    path = f"{out_dir}/speech-sse.pcm"
    with open(path, "wb") as f:
        f.write(audio)
    result["models"] = [m.id for m in c.models.list()]
    result["voices"] = raw(base_url, "GET", "/v1/audio/voices", None, {})["body"]
    result["sse"] = {"path": path, "bytes": len(audio), "deltas": types.count("speech.audio.delta"),
                     "last": types[-1] if types else None}
    print(json.dumps(result))


def transcribe(base_url, clip, short_clip):
    """The long clip as verbose_json and streamed (segments past 30 s); the short one in the
    other formats (each is one Whisper pass over the file: the short clip keeps the test light)."""
    c = client(base_url)
    result = {}
    for fmt in ["json", "text", "srt", "vtt", "verbose_json"]:
        with open(clip if fmt == "verbose_json" else short_clip, "rb") as f:
            r = c.audio.transcriptions.create(model="whisper-1", file=f, response_format=fmt)
        if fmt == "json":
            result[fmt] = r.text
        elif fmt == "verbose_json":
            result[fmt] = {"text": r.text, "duration": r.duration,
                           "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in (r.segments or [])]}
        else:
            result[fmt] = r if isinstance(r, str) else str(r)
    with open(clip, "rb") as f:
        stream = c.audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        deltas, done = [], None
        for event in stream:
            if event.type == "transcript.text.delta":
                deltas.append(event.delta)
            elif event.type == "transcript.text.done":
                done = event.text
    result["stream"] = {"deltas": deltas, "done": done}
    print(json.dumps(result))


def status_of(call):
    try:
        call()
        return {"status": 200}
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        return {"status": e.status_code, "code": body.get("code"), "param": body.get("param"),
                "message": body.get("message")}


def raw(base_url, method, path, body, headers):
    u = urllib.parse.urlparse(base_url)
    import http.client
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, path, body, headers)
    r = c.getresponse()
    return {"status": r.status, "body": json.loads(r.read() or b"{}")}


def bad(base_url, voice):
    c = client(base_url)
    result = {}
    result["unknown_voice"] = status_of(lambda: c.audio.speech.create(model="tts-1", voice="nobody", input="Hi."))
    result["speed"] = status_of(lambda: c.audio.speech.create(model="tts-1", voice=voice, input="Hi.", speed=9))
    result["aac"] = status_of(lambda: c.audio.speech.create(model="tts-1", voice=voice, input="Hi.", response_format="aac"))
    result["long_input"] = status_of(lambda: c.audio.speech.create(model="tts-1", voice=voice, input="word " * 1000))
    result["empty_input"] = status_of(lambda: c.audio.speech.create(model="tts-1", voice=voice, input="  "))
    result["malformed_json"] = raw(base_url, "POST", "/v1/audio/speech", b"{not json", {"content-type": "application/json"})
    result["wrong_type"] = raw(base_url, "POST", "/v1/audio/speech",
                               json.dumps({"model": "tts-1", "voice": voice, "input": 42}), {"content-type": "application/json"})
    result["garbage_audio"] = status_of(lambda: c.audio.transcriptions.create(
        model="whisper-1", file=("noise.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)))
    result["m4a"] = status_of(lambda: c.audio.transcriptions.create(
        model="whisper-1", file=("a.m4a", b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)))
    result["oversize"] = status_of(lambda: c.audio.transcriptions.create(
        model="whisper-1", file=("big.wav", b"\x00" * (3 << 20))))
    result["no_file"] = raw(base_url, "POST", "/v1/audio/transcriptions",
                            b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n",
                            {"content-type": "multipart/form-data; boundary=b"})
    result["not_multipart"] = raw(base_url, "POST", "/v1/audio/transcriptions", b"{}", {"content-type": "application/json"})
    # A client that vanishes mid-stream: read a few bytes of a long reply, then close.
    u = urllib.parse.urlparse(base_url)
    s = socket.create_connection((u.hostname, u.port))
    body = json.dumps({"model": "tts-1", "voice": voice, "input": "This is a long answer. " * 30, "response_format": "pcm"}).encode()
    s.sendall(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    got = s.recv(4096)
    s.close()
    result["vanished_got_bytes"] = len(got)
    # The server still serves the next client.
    result["after"] = status_of(lambda: c.audio.speech.create(model="tts-1", voice=voice, input="Still here.", response_format="wav"))
    print(json.dumps(result))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "speech":
        speech(*sys.argv[2:6])
    elif mode == "transcribe":
        transcribe(*sys.argv[2:5])
    elif mode == "bad":
        bad(*sys.argv[2:4])
    else:
        sys.exit(f"unknown mode {mode}")
