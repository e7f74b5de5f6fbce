// Plays the server's 20 ms frames through the playback AudioWorklet (jitter buffer, flush,
// underrun accounting). One AudioContext is shared with the microphone capture.

let sharedContext = null;

/** The page's AudioContext, at 48 kHz when the browser allows it (no resampling then). */
export function audioContext() {
  if (sharedContext) return sharedContext;
  try {
    sharedContext = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  } catch {
    sharedContext = new AudioContext({ latencyHint: "interactive" }); // the worklet resamples
  }
  return sharedContext;
}

export class Player {
  /** @param {(stats: object) => void} onStats called with the worklet's stats (every ~100 ms and on changes). */
  constructor(onStats) {
    this.onStats = onStats;
    this.node = null;
    this.ready = null;
    this.pending = []; // frames that arrive before the worklet is loaded
    this.stats = { state: "idle", framesPlayed: 0, underruns: 0, flushes: 0, bufferedMs: 0, targetMs: 60 };
  }

  /** Loads the worklet; safe to call more than once. */
  start() {
    if (this.ready) return this.ready;
    const ctx = audioContext();
    this.ready = ctx.audioWorklet
      .addModule(new URL("./playback-worklet.js", import.meta.url))
      .then(() => {
        this.node = new AudioWorkletNode(ctx, "duplex-playback", { numberOfInputs: 0, outputChannelCount: [1] });
        this.node.port.onmessage = (event) => {
          if (event.data.type === "stats") {
            this.stats = event.data;
            this.onStats(event.data);
          }
        };
        this.node.connect(ctx.destination);
        for (const msg of this.pending) this.post(msg.msg, msg.transfer);
        this.pending = [];
      });
    return this.ready;
  }

  get sampleRate() {
    return audioContext().sampleRate;
  }

  /** Whether the browser lets the context play (autoplay policy may hold it until a gesture). */
  get suspended() {
    return audioContext().state !== "running";
  }

  resumeContext() {
    return audioContext().resume();
  }

  post(msg, transfer = []) {
    if (this.node) this.node.port.postMessage(msg, transfer);
    else this.pending.push({ msg, transfer });
  }

  /** One binary frame from the server (the buffer is transferred to the worklet). */
  enqueue(buffer) {
    this.post({ type: "frame", pcm: buffer }, [buffer]);
  }

  /** Drops everything buffered at once (barge-in, STOP). */
  flush() {
    this.post({ type: "flush" });
  }

  /** The stream may stop without an underrun (reply ended, PAUSE, user talking). */
  expectGap() {
    this.post({ type: "gap" });
  }

  /** Takes back an underrun from the last `withinMs` ms: it was the server pausing for the user. */
  excuseUnderrun(withinMs = 1000) {
    this.post({ type: "excuse", withinMs });
  }

  /** A reply (re)starts: running dry counts as an underrun again. */
  streamResumed() {
    this.post({ type: "resume" });
  }
}
