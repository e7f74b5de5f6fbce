// Playback of the server's audio: 20 ms frames of 48 kHz mono s16le (960 samples), played
// through a small adaptive jitter buffer.
//
// States: idle (no reply) → buffering (wait until `targetMs` is queued, or the reply ended)
// → playing. Running dry while playing is an underrun unless the main thread said a gap is
// expected (the reply ended, PAUSE, or the user started talking): an underrun grows the target
// by one frame (up to MAX_TARGET_MS); a long stretch without underruns shrinks it back.
//
// If the AudioContext does not run at 48 kHz, frames are resampled here by linear
// interpolation. Stats go to the main thread every ~100 ms and on every state change.
// The server pauses a reply as soon as it hears the user (before the page learns why), so the
// main thread can excuse an underrun that a speech_start / barge_in explains.

const SOURCE_RATE = 48000;
const FRAME_SAMPLES = 960;
const BASE_TARGET_MS = 60;
const MAX_TARGET_MS = 300;
const SHRINK_AFTER_MS = 15000;
const REPORT_EVERY_MS = 100;
const FADE_SAMPLES = 96; // 2 ms fade-out on flush, so a barge-in does not click

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // Float32Array frames
    this.head = null; // frame being read
    this.headPos = 0;
    this.queuedSamples = 0; // samples in queue + unread part of head
    this.state = "idle";
    this.gapExpected = false;
    this.targetMs = BASE_TARGET_MS;
    this.framesPlayed = 0;
    this.underruns = 0;
    this.flushes = 0;
    this.step = SOURCE_RATE / sampleRate;
    this.prev = 0;
    this.cur = 0;
    this.frac = 1; // ≥ 1: read the next source sample before producing output
    this.fade = null;
    this.sinceReport = 0;
    this.reportEvery = Math.round((sampleRate * REPORT_EVERY_MS) / 1000);
    this.smoothPlayMs = 0; // playing time since the last underrun (for shrinking the target)
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(msg) {
    switch (msg.type) {
      case "frame": {
        const view = new DataView(msg.pcm);
        const n = msg.pcm.byteLength >> 1;
        const frame = new Float32Array(n);
        for (let i = 0; i < n; i++) frame[i] = view.getInt16(i * 2, true) / 32768;
        this.queue.push(frame);
        this.queuedSamples += n;
        if (this.state === "idle") this.setState("buffering");
        break;
      }
      case "gap": // the stream may pause without it being an underrun (reply ended, PAUSE, user talking)
        this.gapExpected = true;
        if (this.state === "buffering") this.maybeStart();
        break;
      case "resume": // a reply (re)starts: running dry is an underrun again
        this.gapExpected = false;
        break;
      case "flush":
        this.flush();
        break;
      case "excuse": // the last underrun was the server pausing for the user's speech, not jitter
        if (this.lastUnderrunTime !== undefined && currentTime - this.lastUnderrunTime <= msg.withinMs / 1000) {
          this.underruns--;
          this.targetMs = Math.max(BASE_TARGET_MS, this.targetMs - 20);
          this.lastUnderrunTime = undefined;
          this.report();
        }
        break;
      case "report":
        this.report();
        break;
    }
  }

  flush() {
    // Keep a couple of milliseconds to fade out, drop the rest at once.
    const fade = new Float32Array(FADE_SAMPLES);
    let filled = 0;
    if (this.state === "playing") {
      while (filled < FADE_SAMPLES && this.nextSampleAvailable()) fade[filled++] = this.readSample(false);
    }
    this.fade = filled > 0 ? { samples: fade, length: filled, pos: 0 } : null;
    this.queue = [];
    this.head = null;
    this.headPos = 0;
    this.queuedSamples = 0;
    this.prev = 0;
    this.cur = 0;
    this.frac = 1;
    this.gapExpected = false;
    this.flushes++;
    this.state = "idle";
    this.report(); // always, so the main thread learns framesPlayed at the flush
  }

  nextSampleAvailable() {
    return (this.head && this.headPos < this.head.length) || this.queue.length > 0;
  }

  // Reads one source sample; counts a frame as played when the last sample of it is read.
  readSample(count = true) {
    if (!this.head || this.headPos >= this.head.length) {
      this.head = this.queue.shift();
      this.headPos = 0;
    }
    const s = this.head[this.headPos++];
    this.queuedSamples--;
    if (this.headPos === this.head.length && count) this.framesPlayed++;
    return s;
  }

  maybeStart() {
    const bufferedMs = (this.queuedSamples * 1000) / SOURCE_RATE;
    if (this.queuedSamples > 0 && (bufferedMs >= this.targetMs || this.gapExpected)) this.setState("playing");
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.report();
  }

  report() {
    this.sinceReport = 0;
    this.port.postMessage({
      type: "stats",
      state: this.state,
      framesPlayed: this.framesPlayed,
      underruns: this.underruns,
      lastUnderrunFrame: this.lastUnderrunFrame ?? null,
      flushes: this.flushes,
      bufferedMs: Math.round((this.queuedSamples * 1000) / SOURCE_RATE),
      targetMs: this.targetMs,
    });
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    const n = out.length;
    let i = 0;
    if (this.fade) {
      const f = this.fade;
      for (; i < n && f.pos < f.length; i++, f.pos++) out[i] = f.samples[f.pos] * (1 - f.pos / f.length);
      if (f.pos >= f.length) this.fade = null;
    }
    if (this.state === "buffering") this.maybeStart();
    if (this.state === "playing") {
      for (; i < n; i++) {
        // Advance the interpolation window [prev, cur] until it brackets the output position.
        while (this.frac >= 1) {
          if (!this.nextSampleAvailable()) break;
          this.prev = this.cur;
          this.cur = this.readSample();
          this.frac -= 1;
        }
        if (this.frac >= 1) {
          this.ranDry();
          break;
        }
        out[i] = this.prev + (this.cur - this.prev) * this.frac;
        this.frac += this.step;
      }
      if (this.state === "playing") {
        this.smoothPlayMs += (n * 1000) / sampleRate;
        if (this.smoothPlayMs >= SHRINK_AFTER_MS && this.targetMs > BASE_TARGET_MS) {
          this.targetMs -= 20;
          this.smoothPlayMs = 0;
        }
      }
    }
    for (; i < n; i++) out[i] = 0;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.sinceReport += n;
    if (this.sinceReport >= this.reportEvery) this.report();
    return true;
  }

  ranDry() {
    if (this.gapExpected) {
      this.setState("idle");
      return;
    }
    this.underruns++;
    this.lastUnderrunFrame = this.framesPlayed;
    this.lastUnderrunTime = currentTime;
    this.smoothPlayMs = 0;
    this.targetMs = Math.min(MAX_TARGET_MS, this.targetMs + 20);
    this.setState("buffering");
  }
}

registerProcessor("duplex-playback", PlaybackProcessor);
