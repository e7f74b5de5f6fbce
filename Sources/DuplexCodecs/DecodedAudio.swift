import DuplexCore
import DuplexDSP

/// Audio decoded from an uploaded file: mono float samples at the file's own rate.
public struct DecodedAudio: Sendable {
    /// Mono samples in [-1, 1] (channels averaged).
    public var samples: [Float]
    /// Sample rate of ``samples`` in Hz.
    public var sampleRate: Int
    /// The container the audio came in.
    public var container: AudioContainer
    /// Channels in the source before the mixdown.
    public var sourceChannels: Int

    /// Creates decoded audio.
    public init(samples: [Float], sampleRate: Int, container: AudioContainer, sourceChannels: Int = 1) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.container = container
        self.sourceChannels = sourceChannels
    }

    /// Duration in seconds.
    public var duration: Double { Double(samples.count) / Double(sampleRate) }

    /// The rate Whisper (and Duplex's ASR) expects.
    public static let whisperSampleRate = 16_000

    /// The same audio resampled to `rate` (libsoxr, high quality).
    public func resampled(to rate: Int) throws(DuplexError) -> DecodedAudio {
        guard rate != sampleRate else { return self }
        let resampler = try Resampler(from: sampleRate, to: rate)
        var output: [Float] = []
        output.reserveCapacity(Int(Double(samples.count) * Double(rate) / Double(sampleRate)) + 1_024)
        // Feed in slices so the resampler's scratch stays small for long files.
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + 65_536)
            resampler.process(Array(samples[start..<end]), into: &output)
            start = end
        }
        output.append(contentsOf: resampler.flush())
        return DecodedAudio(samples: output, sampleRate: rate, container: container, sourceChannels: sourceChannels)
    }

    /// The samples at 16 kHz, ready for Whisper.
    public func whisperSamples() throws(DuplexError) -> [Float] {
        try resampled(to: Self.whisperSampleRate).samples
    }
}
