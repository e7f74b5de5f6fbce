import DuplexCore
import DuplexDSP

/// Runs a 48 kHz ``FrameDenoiser`` on the session's 16 kHz audio: 16 → 48 kHz, whole
/// model frames, 48 → 16 kHz, and a FIFO that hands back exactly as many samples as came
/// in, delayed by a fixed ``latency``.
///
/// The latency is the worst case of everything that holds samples back: the resamplers
/// (libsoxr releases its output in blocks), an incomplete model frame, and the model's own
/// delay (which is dropped at 48 kHz, so the output is time-aligned with the input delayed
/// by exactly `latency`). Should the FIFO ever run short anyway, the gap is filled with
/// silence and the same number of late samples is skipped, so the alignment never drifts.
///
/// Buffers are allocated once and reused: the hot path only moves samples.
///
/// Not thread-safe: it belongs to one denoiser, whose calls the session serializes.
final class DenoisePipeline<Model: FrameDenoiser> {
    /// The session's sample rate.
    static var sampleRate: Int { 16_000 }
    /// The models' sample rate.
    static var modelRate: Int { 48_000 }
    /// Worst shortfall of the 16 → 48 kHz `Resampler` (libsoxr HQ) between the output it
    /// has released and the output its input is worth, in 48 kHz samples (measured: 1757,
    /// for any chunk size).
    static var upsamplerLag: Int { 1_800 }
    /// The same for 48 → 16 kHz, in 16 kHz samples (measured: 586).
    static var downsamplerLag: Int { 600 }

    let model: Model
    /// Output delay relative to the input, in 16 kHz samples.
    let latency: Int
    /// How often the FIFO ran short (never, unless the resampler's blocking changes).
    private(set) var underruns = 0

    private let upsampler: Resampler
    private let downsampler: Resampler
    /// Upsampled input that does not fill a whole model frame yet.
    private var pending: [Float] = []
    private var frame: [Float]
    /// Denoised 48 kHz audio on its way to the downsampler.
    private var denoised: [Float] = []
    /// Denoised 16 kHz audio not handed out yet (starts with `latency` samples of silence).
    private var ready: [Float]
    /// Model output still to discard to undo the model's delay.
    private var toSkip: Int
    /// Samples owed after an underrun, skipped when they arrive.
    private var owed = 0

    init(model: Model) throws(DuplexError) {
        self.model = model
        upsampler = try Resampler(from: Self.sampleRate, to: Self.modelRate)
        downsampler = try Resampler(from: Self.modelRate, to: Self.sampleRate)
        let ratio = Self.modelRate / Self.sampleRate
        let heldAtModelRate = Self.upsamplerLag + model.frameLength - 1 + model.delay
        latency = (heldAtModelRate + ratio - 1) / ratio + Self.downsamplerLag
        toSkip = model.delay
        frame = [Float](repeating: 0, count: model.frameLength)
        ready = [Float](repeating: 0, count: latency)
        ready.reserveCapacity(latency + 16_384)
        pending.reserveCapacity(Self.upsamplerLag + 3 * 16_384)
        denoised.reserveCapacity(Self.upsamplerLag + 3 * 16_384)
    }

    /// Denoises `input` and appends exactly `input.count` samples to `output`.
    func process(_ input: [Float], into output: inout [Float]) {
        guard !input.isEmpty else { return }
        upsampler.process(input, into: &pending)
        runModel()
        if !denoised.isEmpty {
            downsampler.process(denoised, into: &ready)
            denoised.removeAll(keepingCapacity: true)
        }
        if owed > 0 {
            let skipped = min(owed, ready.count)
            ready.removeFirst(skipped)
            owed -= skipped
        }
        let available = min(input.count, ready.count)
        output.append(contentsOf: ready[..<available])
        ready.removeFirst(available)
        if available < input.count {
            let missing = input.count - available
            output.append(contentsOf: repeatElement(0, count: missing))
            owed += missing
            underruns += 1
        }
    }

    /// Feeds every whole frame in `pending` through the model.
    private func runModel() {
        let length = model.frameLength
        let frames = pending.count / length
        guard frames > 0 else { return }
        pending.withUnsafeBufferPointer { input in
            frame.withUnsafeMutableBufferPointer { out in
                for index in 0..<frames {
                    model.process(input.baseAddress! + index * length, out.baseAddress!)
                    // Undo the model's delay by dropping its first `delay` output samples.
                    let skip = min(toSkip, length)
                    toSkip -= skip
                    denoised.append(contentsOf: out[skip...])
                }
            }
        }
        pending.removeFirst(frames * length)
    }
}
