"""Reference benchmark for the Python piper-tts package (baseline for Duplex).

Measures piper the way the original Python project used it: streaming
``PiperVoice.synthesize(text, syn_config)``, which yields one AudioChunk per
sentence. For each text and run it records the time from the call to the FIRST
yielded chunk (first-chunk latency) and the total synthesis time / audio
duration (real-time factor, RTF). The voice is loaded once (load time is
reported) and warmup runs are done first and not counted.

Usage:
  .deps/venv/bin/python tools/piper_reference_bench.py --model VOICE.onnx \
      [--config VOICE.onnx.json] [--text "..."]... [--texts-file F] \
      [--runs 5] [--warmup 2] [--threads N]

--texts-file: one text per non-empty line. --threads sets onnxruntime's
intra-op thread count; PiperVoice.load() has no such option, so with --threads
the voice is built through the PiperVoice dataclass with our own
InferenceSession (same CPU provider). Without it, PiperVoice.load() is used
unchanged. Prints one JSON object on stdout; human-readable lines on stderr.
Percentiles are nearest-rank on sorted values.
"""
import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

DEFAULT_TEXTS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please remember to turn off the lights before you leave the office tonight.",
    "When the train finally arrived, everyone on the platform cheered with relief.",
    "I think we should try the new restaurant downtown. It opened last week.",
    "Good morning! The weather today will be sunny with a light breeze from the west.",
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fail(msg):
    log(f"error: {msg}"); sys.exit(2)


def stats(values):
    s = sorted(values)
    n = len(s)
    rank = lambda p: s[max(1, math.ceil(p / 100.0 * n)) - 1]  # nearest-rank
    return {"p50": round(rank(50), 3), "p95": round(rank(95), 3),
            "mean": round(sum(s) / n, 3), "n": n}


def load_voice(model, config, threads):
    import onnxruntime
    from piper import PiperConfig, PiperVoice
    if threads is None:
        voice = PiperVoice.load(model, config_path=config)
        mode = "piper default (PiperVoice.load)"
    else:
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        with open(config, "r", encoding="utf-8") as f:
            cfg = PiperConfig.from_dict(json.load(f))
        session = onnxruntime.InferenceSession(
            str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        voice = PiperVoice(session=session, config=cfg)
        mode = "explicit (--threads, custom InferenceSession)"
    intra = voice.session.get_session_options().intra_op_num_threads
    desc = f"{intra}" if intra > 0 else "0 = onnxruntime default (one per physical core)"
    return voice, {"mode": mode, "intra_op_num_threads": intra,
                   "description": desc, "cpu_count": os.cpu_count(),
                   "onnxruntime": onnxruntime.__version__}


def run_once(voice, text, syn_config):
    t0 = time.perf_counter()
    first, samples, rate = None, 0, None
    for chunk in voice.synthesize(text, syn_config):
        if first is None:
            first = time.perf_counter() - t0
        samples += len(chunk.audio_float_array)
        rate = chunk.sample_rate
    total = time.perf_counter() - t0
    if first is None:
        raise RuntimeError(f"no audio produced for text: {text!r}")
    return first * 1000.0, total * 1000.0, samples / float(rate)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--config")
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--texts-file")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    if args.runs < 1 or args.warmup < 0 or (args.threads or 1) < 1:
        fail("--runs and --threads must be >= 1, --warmup >= 0")

    model = Path(args.model)
    config = Path(args.config) if args.config else Path(f"{model}.json")
    if not model.is_file():
        fail(f"model not found: {model}")
    if not config.is_file():
        fail(f"voice config not found: {config} (pass --config)")
    try:
        import importlib.metadata as md
        from piper import SynthesisConfig
        version = md.version("piper-tts")
    except Exception as e:  # ImportError, PackageNotFoundError, broken install
        fail(f"cannot import piper-tts ({e}); use .deps/venv/bin/python "
             "or `pip install piper-tts==1.8.0`")

    texts = list(args.text)
    if args.texts_file:
        with open(args.texts_file, "r", encoding="utf-8") as f:
            texts += [ln.strip() for ln in f if ln.strip()]
    texts = texts or DEFAULT_TEXTS

    t0 = time.perf_counter()
    voice, threads = load_voice(model, config, args.threads)
    load_ms = (time.perf_counter() - t0) * 1000.0
    log(f"piper-tts {version}, onnxruntime {threads['onnxruntime']}; "
        f"model {model}; load {load_ms:.1f} ms")
    log(f"threads: {threads['mode']}; intra_op_num_threads="
        f"{threads['description']}; cpu_count={threads['cpu_count']}")

    syn_config = SynthesisConfig()
    for i in range(args.warmup):
        f_ms, t_ms, _ = run_once(voice, texts[i % len(texts)], syn_config)
        log(f"warmup {i + 1}/{args.warmup}: first {f_ms:.1f} ms, total {t_ms:.1f} ms")

    runs = []
    for r in range(args.runs):
        for ti, text in enumerate(texts):
            f_ms, t_ms, audio_s = run_once(voice, text, syn_config)
            rtf = (t_ms / 1000.0) / audio_s
            runs.append({"text_index": ti, "run": r, "first_chunk_ms": round(f_ms, 3),
                         "total_ms": round(t_ms, 3), "audio_s": round(audio_s, 4),
                         "rtf": round(rtf, 4)})
            log(f"run {r + 1} text {ti}: first {f_ms:7.1f} ms  total {t_ms:7.1f} ms"
                f"  audio {audio_s:5.2f} s  rtf {rtf:.3f}")

    first = stats([x["first_chunk_ms"] for x in runs])
    rtf = stats([x["rtf"] for x in runs])
    audio_total = sum(x["audio_s"] for x in runs)
    log(f"first_chunk_ms p50 {first['p50']} p95 {first['p95']} mean {first['mean']}"
        f" (n={first['n']}); rtf p50 {rtf['p50']} p95 {rtf['p95']} mean {rtf['mean']}")
    out = {"engine": f"piper-tts {version}", "model": str(model), "config": str(config),
           "threads": threads, "load_ms": round(load_ms, 3), "warmup": args.warmup,
           "texts": texts, "first_chunk_ms": first, "rtf": rtf,
           "audio_seconds_total": round(audio_total, 4),
           "synthesis_seconds_total": round(sum(x["total_ms"] for x in runs) / 1000.0, 4),
           "runs": runs}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
