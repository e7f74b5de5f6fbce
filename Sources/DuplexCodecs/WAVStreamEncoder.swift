import DuplexCore

/// Streams a RIFF/WAVE file (16-bit PCM, mono) whose length is not known in advance.
///
/// The 44-byte header goes out with the first chunk, with the RIFF and `data` chunk sizes
/// set to `0xFFFFFFFF`, as OpenAI's streamed `wav` responses and most streaming servers do
/// (the file cannot be seeked back to patch them). Readers treat that as "up to the end of
/// the file": libsndfile (and so Python's `soundfile`) clamps the data length to the file
/// length, Python's `wave` reads frames until EOF, browsers and ffmpeg play it. The
/// alternative convention, sizes of 0, makes `wave` and several players see an empty file.
public struct WAVStreamEncoder: StreamingAudioEncoder, Sendable {
    public var format: AudioFormat { .wav }
    public let sampleRate: Int
    private var headerSent = false
    private var finished = false

    /// The size written for the RIFF and `data` chunks: unknown length.
    public static let unknownSize: UInt32 = 0xFFFF_FFFF

    /// Creates an encoder for mono input at `sampleRate`.
    public init(sampleRate: Int) {
        self.sampleRate = sampleRate
    }

    /// The 44-byte header for mono s16 PCM at `sampleRate` with unknown-length sizes.
    public static func header(sampleRate: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(44)
        bytes.appendASCII("RIFF")
        bytes.appendLittleEndian(unknownSize)
        bytes.appendASCII("WAVE")
        bytes.appendASCII("fmt ")
        bytes.appendLittleEndian(UInt32(16))
        bytes.appendLittleEndian(UInt16(1))  // PCM
        bytes.appendLittleEndian(UInt16(1))  // mono
        bytes.appendLittleEndian(UInt32(sampleRate))
        bytes.appendLittleEndian(UInt32(sampleRate * 2))  // byte rate
        bytes.appendLittleEndian(UInt16(2))  // block align
        bytes.appendLittleEndian(UInt16(16))  // bits per sample
        bytes.appendASCII("data")
        bytes.appendLittleEndian(unknownSize)
        return bytes
    }

    public mutating func encode(_ samples: UnsafeBufferPointer<Int16>) throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The wav stream is already finished.") }
        var bytes: [UInt8] = []
        if !headerSent {
            bytes = Self.header(sampleRate: sampleRate)
            headerSent = true
        }
        bytes.appendLittleEndian(samples: samples)
        return bytes
    }

    public mutating func finish() throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The wav stream is already finished.") }
        finished = true
        // A stream with no audio still is a valid (empty) file.
        return headerSent ? [] : Self.header(sampleRate: sampleRate)
    }
}
