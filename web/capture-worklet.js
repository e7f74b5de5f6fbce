// Microphone capture: converts the AudioContext's input (any rate) to 16 kHz mono s16le and
// posts one chunk per `chunkMs` to the main thread, with the chunk's level for the meter.
//
// Resampling: a windowed-sinc low-pass (cut-off just under the 8 kHz Nyquist of the output)
// followed by linear interpolation at the fractional step inRate / outRate. At 48 kHz this is
// an exact 3:1 decimation; other rates (44.1 kHz on some devices) work the same way.

const OUT_RATE = 16000;

function lowPassKernel(inRate, cutoffHz, taps) {
  const kernel = new Float32Array(taps);
  const fc = cutoffHz / inRate;
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const blackman = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
    kernel[i] = sinc * blackman;
    sum += kernel[i];
  }
  for (let i = 0; i < taps; i++) kernel[i] /= sum;
  return kernel;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const chunkMs = (options.processorOptions && options.processorOptions.chunkMs) || 20;
    this.chunkSamples = Math.round((OUT_RATE * chunkMs) / 1000);
    this.step = sampleRate / OUT_RATE;
    this.filtering = sampleRate > OUT_RATE;
    this.kernel = this.filtering ? lowPassKernel(sampleRate, 7200, 47) : new Float32Array([1]);
    this.history = new Float32Array(this.kernel.length); // ring of recent input samples
    this.historyPos = 0;
    this.prev = 0; // last filtered input sample
    this.frac = 0; // position of the next output sample between `prev` and the next input
    this.chunk = new Int16Array(this.chunkSamples);
    this.chunkFill = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  filtered(sample) {
    const n = this.history.length;
    this.history[this.historyPos] = sample;
    this.historyPos = (this.historyPos + 1) % n;
    if (!this.filtering) return sample;
    let acc = 0;
    let h = this.historyPos;
    for (let k = 0; k < n; k++) {
      acc += this.kernel[k] * this.history[h];
      h = h + 1 === n ? 0 : h + 1;
    }
    return acc;
  }

  emit(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.chunk[this.chunkFill++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.sumSquares += clamped * clamped;
    const a = Math.abs(clamped);
    if (a > this.peak) this.peak = a;
    if (this.chunkFill === this.chunkSamples) {
      // Explicit little-endian bytes: the wire format is s16le whatever the platform.
      const buffer = new ArrayBuffer(this.chunkSamples * 2);
      const view = new DataView(buffer);
      for (let i = 0; i < this.chunkSamples; i++) view.setInt16(i * 2, this.chunk[i], true);
      const rms = Math.sqrt(this.sumSquares / this.chunkSamples);
      this.port.postMessage({ pcm: buffer, rms, peak: this.peak }, [buffer]);
      this.chunkFill = 0;
      this.sumSquares = 0;
      this.peak = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const channels = input.length;
    const frames = input[0].length;
    for (let i = 0; i < frames; i++) {
      let s = input[0][i];
      if (channels > 1) {
        for (let c = 1; c < channels; c++) s += input[c][i];
        s /= channels;
      }
      const cur = this.filtered(s);
      // Emit every output sample that falls between `prev` (position 0) and `cur` (position 1).
      while (this.frac < 1) {
        this.emit(this.prev + (cur - this.prev) * this.frac);
        this.frac += this.step;
      }
      this.frac -= 1;
      this.prev = cur;
    }
    return true;
  }
}

registerProcessor("duplex-capture", CaptureProcessor);
