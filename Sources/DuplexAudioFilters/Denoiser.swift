/// Noise suppression for the microphone path of conversation mode (`input.denoise`).
///
/// A denoiser takes the session's 16 kHz mono samples (nominal range -1...1) in any chunk
/// sizes and returns exactly as many, delayed by a fixed ``latency``: the first `latency`
/// samples out are silence, and output sample `i + latency` is input sample `i` denoised.
/// Internally the audio is resampled to the models' 48 kHz, processed in 10 ms frames and
/// resampled back; buffers are reused, so a call allocates nothing beyond its output.
///
/// ```swift
/// if let denoiser = try DenoiserKind.rnnoise.makeDenoiser(directory: modelsDirectory) {
///     let clean = denoiser.process(microphoneChunk)
/// }
/// ```
///
/// Not thread-safe: a denoiser belongs to one session, whose calls are serialized by the
/// caller (own it in the task that receives the microphone audio).
public protocol Denoiser: AnyObject {
    /// Which noise suppressor this is.
    var kind: DenoiserKind { get }
    /// The fixed delay of the output relative to the input, in 16 kHz samples.
    var latency: Int { get }
    /// Denoises a chunk of 16 kHz mono samples, appending exactly `input.count` samples to
    /// `output`.
    func process(_ input: [Float], into output: inout [Float])
}

extension Denoiser {
    /// The sample rate of the input and output: 16 kHz.
    public var sampleRate: Int { 16_000 }

    /// ``latency`` as a duration.
    public var latencyDuration: Duration {
        .microseconds(Int64(latency) * 1_000_000 / Int64(sampleRate))
    }

    /// Denoises a chunk of 16 kHz mono samples and returns exactly `input.count` samples.
    public func process(_ input: [Float]) -> [Float] {
        var output: [Float] = []
        output.reserveCapacity(input.count)
        process(input, into: &output)
        return output
    }
}
