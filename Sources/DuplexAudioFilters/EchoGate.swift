import DuplexDSP

/// Attenuates what is left after echo cancellation while the reply is clearly louder than it:
/// the echo canceller needs a few seconds of reply audio to learn the room, and until then
/// the reply's echo passes through it. The gate compares the canceller's output with the
/// reference (the reply as sent) over the last ~160 ms: output below `ratio` × the reference
/// level is the reply's echo, not a user talking over it, and is attenuated.
///
/// A user speaking much more softly than the reply plays is attenuated too (the speakerphone
/// trade-off); `ratio` sets where that line is (0.5 ≈ −6 dB). Not thread-safe: one per session.
public struct EchoGate: Sendable {
    /// Output-to-reference level ratio below which the output is echo.
    public var ratio: Float
    /// Gain applied to echo (0.05 ≈ −26 dB).
    public var attenuation: Float
    /// Recent reference levels (RMS per chunk), newest last.
    private var references: [Float] = []
    private static let memory = 8

    /// Creates a gate.
    public init(ratio: Float = 0.5, attenuation: Float = 0.05) {
        self.ratio = ratio
        self.attenuation = attenuation
    }

    /// Notes the reference audio of one chunk (16 kHz; empty when no reply plays).
    public mutating func reference(_ samples: [Float]) {
        references.append(LoudnessMeter.rms(samples))
        if references.count > Self.memory { references.removeFirst(references.count - Self.memory) }
    }

    /// Gates one chunk of echo-cancelled microphone audio in place; true when it was echo.
    @discardableResult
    public func apply(to samples: inout [Float]) -> Bool {
        guard let loudest = references.max(), loudest > 0.001 else { return false }
        guard LoudnessMeter.rms(samples) < loudest * ratio else { return false }
        for index in samples.indices { samples[index] *= attenuation }
        return true
    }
}
