"""Time to first byte and whole-response time of Duplex's `POST /v1/audio/speech`.

    .deps/venv/bin/python tools/bench_openai_speech.py [--url http://127.0.0.1:8080] [--format pcm]
        [--repeats 20] [--voice piper-en-us-joe] [--text "..."]

One request at a time (after a warm-up request). Prints p50/p95 of the first body byte and of
the whole response, the audio duration, and whole/audio (the goal is <= 0.15).
"""
import argparse
import http.client
import json
import time
import urllib.parse

TEXT_200 = ("The morning train left the station on time, and the passengers settled in with coffee and "
            "newspapers. Outside, the fields rolled past in the soft light, green and quiet under a pale sky.")


def one(url, fmt, voice, text):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
    t0 = time.perf_counter()
    c.request("POST", "/v1/audio/speech",
              json.dumps({"model": "tts-1", "input": text, "voice": voice, "response_format": fmt}),
              {"content-type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise SystemExit(f"HTTP {r.status}: {r.read()[:300]!r}")
    first, size = None, 0
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        if first is None:
            first = time.perf_counter()
        size += len(chunk)
    return 1000 * (first - t0), 1000 * (time.perf_counter() - t0), size


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--format", default="pcm")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--voice", default="piper-en-us-joe")
    p.add_argument("--text", default=TEXT_200)
    a = p.parse_args()
    one(a.url, a.format, a.voice, "Warm up.")
    firsts, wholes, sizes = [], [], []
    for _ in range(a.repeats):
        f, w, s = one(a.url, a.format, a.voice, a.text)
        firsts.append(f)
        wholes.append(w)
        sizes.append(s)
    line = (f"format={a.format} repeats={a.repeats} chars={len(a.text)} first byte p50={quantile(firsts, .5):.1f} "
            f"p95={quantile(firsts, .95):.1f} ms; whole p50={quantile(wholes, .5):.0f} p95={quantile(wholes, .95):.0f} ms")
    if a.format == "pcm":
        audio = sorted(sizes)[len(sizes) // 2] / 48000
        ratios = [w / 1000 / (s / 48000) for w, s in zip(wholes, sizes)]
        line += f"; audio {audio:.2f} s; whole/audio p50={quantile(ratios, .5):.3f} p95={quantile(ratios, .95):.3f}"
    print(line)


if __name__ == "__main__":
    main()
