// Microphone capture: getUserMedia with the browser's echo cancellation, noise suppression
// and gain control, converted to 16 kHz s16le mono by the capture AudioWorklet.

import { audioContext } from "./audio-playback.js";

export const CAPTURE_RATE = 16000;
export const CHUNK_MS = 20;

/** A user-facing explanation for a getUserMedia failure. */
export function describeMicError(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Microphone access was denied. Allow the microphone for this site in the browser's settings, or type below instead.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "No microphone was found. Connect one and try again, or type below instead.";
  }
  if (name === "NotReadableError") {
    return "The microphone is in use by another application or could not be opened.";
  }
  if (name === "InsecureContext") {
    return "The microphone needs a secure page (https:// or localhost). Open the page over https, or type below instead.";
  }
  return `The microphone could not be started (${(error && error.message) || error}).`;
}

export class MicCapture {
  /**
   * @param {(pcm: ArrayBuffer, level: {rms: number, peak: number}) => void} onChunk one 20 ms chunk of 16 kHz s16le
   */
  constructor(onChunk) {
    this.onChunk = onChunk;
    this.stream = null;
    this.source = null;
    this.node = null;
    this.sink = null;
  }

  get active() {
    return this.stream !== null;
  }

  async start() {
    if (this.stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const error = new Error("getUserMedia is not available");
      error.name = window.isSecureContext ? "NotFoundError" : "InsecureContext";
      throw error;
    }
    const ctx = audioContext();
    const [stream] = await Promise.all([
      navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      }),
      ctx.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url)),
    ]);
    this.stream = stream;
    this.source = ctx.createMediaStreamSource(stream);
    this.node = new AudioWorkletNode(ctx, "duplex-capture", {
      numberOfOutputs: 0,
      processorOptions: { chunkMs: CHUNK_MS },
    });
    this.node.port.onmessage = (event) => {
      const { pcm, rms, peak } = event.data;
      this.onChunk(pcm, { rms, peak });
    };
    this.source.connect(this.node);
    // A track that ends (device unplugged, permission revoked) stops the capture.
    for (const track of stream.getAudioTracks()) track.onended = () => this.onEnded?.();
  }

  stop() {
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.source) this.source.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.source = null;
    this.node = null;
  }
}
