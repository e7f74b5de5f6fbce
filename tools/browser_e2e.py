#!/usr/bin/env python3
"""End-to-end test of the browser client (web/) against a running Duplex server.

Launches headless Chromium through selenium with a fake microphone that plays a WAV file,
opens the page with ``?autoconnect=1&mic=1``, polls ``window.duplexStats`` and prints ONE
JSON line with the results. Exit status 0 when:

- a transcript containing every expected word appeared (any transcript without
  ``--expect-words``),
- the playback worklet consumed more than 25 frames (``framesPlayed > 25``),
- with ``--expect-barge-in``: a ``barge_in`` arrived and playback stopped afterwards
  (``framesPlayed`` grew by at most ``--max-frames-after-barge`` frames in the second after
  the flush, before any new reply started).

Otherwise exit status 1, with the reason in the JSON line.

The caller makes the microphone WAV (mono or stereo 16-bit PCM; Chromium resamples): the
question, then silence. It is Chromium's fake capture device, so it goes through the
browser's own getUserMedia and audio processing. For barge-in, ``--interrupt-wav`` is
spoken into the same microphone stream *when the reply has been playing for*
``--interrupt-after-frames`` frames: the interruption lands on the reply however long the
server took to answer (a fixed offset in one file does not, on a loaded machine). Example::

    .deps/venv/bin/python tools/browser_e2e.py --url http://127.0.0.1:8080/ \\
        --mic-wav /tmp/question.wav --interrupt-wav /tmp/interruption.wav \\
        --screenshot docs/screenshot-conversation.png \\
        --expect-words "library,open" --expect-barge-in

Requires selenium (``pip install selenium``, see tools/requirements.txt) and Debian's
``chromium`` and ``chromium-driver`` packages.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import time
import urllib.parse

# Frames the playback may still consume after a barge-in flush: the worklet reports every
# ~100 ms, and a frame can be half-read when the flush lands.
DEFAULT_MAX_FRAMES_AFTER_BARGE = 3
BARGE_SETTLE_S = 0.3  # the worklet's flush acknowledgement has arrived by then
BARGE_WINDOW_S = 1.2  # how long playback must stay stopped after a barge-in


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Browser end-to-end test of the Duplex web client.")
    parser.add_argument("--url", required=True, help="page URL, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--mic-wav", required=True, help="WAV file played as the microphone")
    parser.add_argument("--screenshot", required=True, help="PNG written mid-conversation")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds before giving up (default 90)")
    parser.add_argument("--expect-words", default="", help="comma-separated words a transcript must contain")
    parser.add_argument("--expect-barge-in", action="store_true", help="require a barge-in that stops playback")
    parser.add_argument("--interrupt-wav", default="",
                        help="WAV spoken into the microphone once the first reply is playing")
    parser.add_argument("--interrupt-after-frames", type=int, default=15,
                        help="reply frames played before the interruption starts (default 15)")
    parser.add_argument("--expect-turn-model", action="store_true",
                        help="require live partial transcripts and an end-of-turn decision shown by the page")
    parser.add_argument("--ws", default="", help="WebSocket URL override, passed to the page as ?ws=")
    parser.add_argument("--settle", type=float, default=12.0,
                        help="after the checks pass, at most this many seconds for the conversation to finish "
                             "(no new events for 2.5 s, nothing playing; default 12)")
    parser.add_argument("--max-frames-after-barge", type=int, default=DEFAULT_MAX_FRAMES_AFTER_BARGE)
    parser.add_argument("--window-size", default="1280,1150", help="browser window WIDTH,HEIGHT")
    parser.add_argument("--accept-certificate", action="store_true",
                        help="accept the server's self-signed certificate (as a person clicking through the warning)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium binary")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver", help="chromedriver binary")
    return parser.parse_args(argv)


def page_url(base: str, ws: str) -> str:
    parts = urllib.parse.urlsplit(base)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query += [("autoconnect", "1"), ("mic", "1")]
    if ws:
        query.append(("ws", ws))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe=":/")))


def make_driver(args: argparse.Namespace):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={os.path.abspath(args.mic_wav)}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        f"--window-size={args.window_size}",
    ):
        options.add_argument(flag)
    if args.accept_certificate:
        options.add_argument("--ignore-certificate-errors")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=args.chromedriver))


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def transcript_matches(transcripts: list[str], expected: list[str]) -> bool:
    for text in transcripts:
        words = set(words_of(text))
        if expected and all(word in words for word in expected):
            return True
        if not expected and words:
            return True
    return False


# Installed before the page's scripts: getUserMedia still opens the (fake) capture device
# with the page's constraints, and its track is routed through a test AudioContext into
# the stream the page gets, so the test can speak more into the same microphone later.
MIC_JS = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const original = devices.getUserMedia.bind(devices);
  const mic = { ctx: null, dest: null };
  window.__duplexTestMic = mic;
  devices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    mic.ctx = new AudioContext({ sampleRate: 48000 });
    mic.dest = mic.ctx.createMediaStreamDestination();
    mic.ctx.createMediaStreamSource(stream).connect(mic.dest);
    return mic.dest.stream;
  };
  mic.speak = async (b64) => {
    if (!mic.ctx) throw new Error("the page has not opened the microphone");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const buffer = await mic.ctx.decodeAudioData(bytes.buffer);
    const source = mic.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(mic.dest);
    source.start();
    return buffer.duration;
  };
})();
"""

STATS_JS = "return window.duplexStats ? JSON.parse(JSON.stringify(window.duplexStats)) : null;"


def run(args: argparse.Namespace) -> tuple[bool, dict]:
    expected = [w for w in (words_of(x)[0] if words_of(x) else "" for x in args.expect_words.split(",")) if w]
    result: dict = {"ok": False, "reason": "", "url": page_url(args.url, args.ws)}
    driver = make_driver(args)
    console_errors: list[str] = []
    interruption = ""
    if args.interrupt_wav:
        with open(args.interrupt_wav, "rb") as wav:
            interruption = base64.b64encode(wav.read()).decode("ascii")
    interrupted_at: int | None = None  # framesPlayed when the interruption was spoken

    def drain_console() -> None:
        try:
            for entry in driver.get_log("browser"):
                if entry.get("level") == "SEVERE":
                    console_errors.append(entry.get("message", ""))
        except Exception:  # noqa: BLE001 - logs are best effort
            pass

    stats: dict | None = None
    started = time.monotonic()
    barge: dict | None = None  # barge-in bookkeeping
    shot_turn = -1
    screenshot_taken = False
    success_at: float | None = None
    activity: tuple = ()
    last_activity = time.monotonic()
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": MIC_JS})
        driver.get(result["url"])
        # getUserMedia needs a secure context: https, or http on localhost.
        result["secureContext"] = driver.execute_script("return window.isSecureContext")
        while True:
            now = time.monotonic()
            elapsed = now - started
            stats = driver.execute_script(STATS_JS)
            if stats is None:
                if elapsed > args.timeout:
                    result["reason"] = "window.duplexStats never appeared (page failed to load?)"
                    break
                time.sleep(0.1)
                continue

            signature = (len(stats["transcripts"]), stats["ttsStarts"], stats["ttsEnds"], stats["framesReceived"],
                         stats["bargeIns"], json.dumps(stats.get("lastEvent"), sort_keys=True))
            if signature != activity:
                activity, last_activity = signature, now

            # The interruption, spoken once the first reply has played long enough.
            if (interruption and interrupted_at is None and stats["ttsStarts"] >= 1
                    and stats["framesPlayed"] >= args.interrupt_after_frames):
                driver.execute_script("return window.__duplexTestMic.speak(arguments[0]);", interruption)
                interrupted_at = stats["framesPlayed"]

            # Barge-in: baseline once the flush was acknowledged, then watch for a second.
            if args.expect_barge_in and barge is None and stats["bargeIns"] > 0:
                barge = {"t": now, "ttsStarts": stats["ttsStarts"], "polled": stats["framesPlayed"],
                         "baseline": None, "after": None, "done": False}
            if barge and not barge["done"]:
                since = now - barge["t"]
                if barge["baseline"] is None and since >= BARGE_SETTLE_S:
                    at_flush = stats.get("framesPlayedAtFlush")
                    barge["baseline"] = at_flush if at_flush is not None else barge["polled"]
                if stats["ttsStarts"] == barge["ttsStarts"]:
                    barge["after"] = stats["framesPlayed"]  # the last reading before any new reply
                if since >= BARGE_WINDOW_S or stats["ttsStarts"] != barge["ttsStarts"]:
                    barge["done"] = barge["baseline"] is not None

            # Screenshot while a reply plays (the latest reply that plays wins).
            in_barge_window = barge is not None and not barge["done"]
            if (not in_barge_window and stats.get("playback") == "playing"
                    and stats["ttsStarts"] != shot_turn and stats["framesPlayed"] > 10):
                time.sleep(0.4)  # let the reply text and latency panel settle on screen
                driver.save_screenshot(args.screenshot)
                shot_turn = stats["ttsStarts"]
                screenshot_taken = True

            have_transcript = transcript_matches(stats["transcripts"], expected)
            played_enough = stats["framesPlayed"] > 25
            barge_ok = (not args.expect_barge_in) or (barge is not None and barge["done"])
            turn_ok = (not args.expect_turn_model) or (bool(stats.get("partials")) and stats.get("endOfTurn") is not None)
            if have_transcript and played_enough and barge_ok and turn_ok:
                if success_at is None:
                    success_at = now
                quiet = (stats["ttsStarts"] == stats["ttsEnds"] and stats.get("playback") != "playing"
                         and not stats.get("userSpeaking") and now - last_activity >= 2.5)
                if (quiet and screenshot_taken) or now - success_at > args.settle:
                    break
            elif elapsed > args.timeout:
                missing = []
                if not have_transcript:
                    missing.append(f"no transcript containing {expected or 'any words'}")
                if not played_enough:
                    missing.append(f"framesPlayed {stats['framesPlayed']} <= 25")
                if not barge_ok:
                    missing.append("no barge_in" if barge is None else "barge-in check incomplete")
                if not turn_ok:
                    missing.append(f"partials {len(stats.get('partials') or [])}, endOfTurn {stats.get('endOfTurn')}")
                result["reason"] = "timeout: " + "; ".join(missing)
                break
            time.sleep(0.1)

        if not screenshot_taken:
            driver.save_screenshot(args.screenshot)
        drain_console()
    finally:
        driver.quit()

    if stats:
        result.update({
            "transcripts": stats["transcripts"],
            "replies": stats["replies"],
            "framesReceived": stats["framesReceived"],
            "framesPlayed": stats["framesPlayed"],
            "underruns": stats["underruns"],
            "lastUnderrunFrame": stats.get("lastUnderrunFrame"),
            "bargeIns": stats["bargeIns"],
            "flushes": stats["flushes"],
            "micFramesSent": stats["micFramesSent"],
            "errors": stats["errors"],
            "errorMessages": stats.get("errorMessages", []),
            "state": stats["state"],
            "audioContext": f"{stats.get('audioContextState')}@{stats.get('audioContextRate')}",
            "latency": stats.get("latency", []),
            "partials": stats.get("partials", []),
            "endOfTurn": stats.get("endOfTurn"),
            "turnProbes": stats.get("turnProbes", 0),
        })
    if interrupted_at is not None:
        result["framesPlayedAtInterruption"] = interrupted_at
    if barge:
        result["framesPlayedAtBargeIn"] = barge["baseline"]
        result["framesPlayedAfterBargeIn"] = barge["after"]
        result["bargeInWindowS"] = BARGE_WINDOW_S
    result["consoleErrors"] = console_errors
    result["screenshot"] = args.screenshot
    result["elapsedS"] = round(time.monotonic() - started, 1)

    if result["reason"]:
        return False, result
    if args.expect_barge_in and barge:
        grown = (barge["after"] or 0) - (barge["baseline"] or 0)
        result["framesAfterBargeIn"] = grown
        if grown > args.max_frames_after_barge:
            result["reason"] = f"playback continued after barge-in: {grown} frames > {args.max_frames_after_barge}"
            return False, result
    result["ok"] = True
    result["reason"] = "ok"
    return True, result


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for wav in filter(None, [args.mic_wav, args.interrupt_wav]):
        if not os.path.isfile(wav):
            print(json.dumps({"ok": False, "reason": f"WAV not found: {wav}"}))
            return 1
    try:
        ok, result = run(args)
    except Exception as error:  # noqa: BLE001 - report any driver failure as one JSON line
        print(json.dumps({"ok": False, "reason": f"{type(error).__name__}: {error}".strip()}))
        return 1
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
