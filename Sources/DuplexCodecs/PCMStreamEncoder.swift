import DuplexCore

/// Raw s16le mono passthrough (OpenAI's `pcm`: no header; the client must know the rate).
public struct PCMStreamEncoder: StreamingAudioEncoder, Sendable {
    public var format: AudioFormat { .pcm }
    public let sampleRate: Int
    private var finished = false

    /// Creates a passthrough encoder for input at `sampleRate`.
    public init(sampleRate: Int) {
        self.sampleRate = sampleRate
    }

    public mutating func encode(_ samples: UnsafeBufferPointer<Int16>) throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The pcm stream is already finished.") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(samples.count * 2)
        bytes.appendLittleEndian(samples: samples)
        return bytes
    }

    public mutating func finish() throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The pcm stream is already finished.") }
        finished = true
        return []
    }
}
