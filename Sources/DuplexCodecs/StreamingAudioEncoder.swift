import DuplexCore

/// An encoder that turns a stream of mono s16 PCM into a stream of bytes in one
/// ``AudioFormat``, for a streamed (chunked) HTTP response.
///
/// Feed chunks of any size with ``encode(_:)``; each call returns the bytes that are ready
/// now (possibly none while a codec fills a frame), so the first bytes can leave as soon as
/// the first audio is encoded. Call ``finish()`` once at the end for the remaining bytes
/// (the last partial frame padded, end-of-stream markers). Concatenating every returned
/// chunk gives a complete file.
///
/// ```swift
/// var encoder = try AudioEncoders.make(.opus, sampleRate: 24_000)
/// for chunk in pcmChunks {
///     let bytes = try chunk.withUnsafeBufferPointer { try encoder.encode($0) }
///     if !bytes.isEmpty { try await writer.write(bytes) }
/// }
/// try await writer.write(try encoder.finish())
/// ```
///
/// An encoder belongs to one stream (one task) and is not `Sendable`: create it where the
/// response body is written. Calling ``encode(_:)`` after ``finish()`` throws `invalidState`.
public protocol StreamingAudioEncoder {
    /// The format this encoder writes.
    var format: AudioFormat { get }
    /// The sample rate of the input PCM in Hz.
    var sampleRate: Int { get }

    /// Encodes a chunk of mono samples and returns the bytes ready now.
    mutating func encode(_ samples: UnsafeBufferPointer<Int16>) throws(DuplexError) -> [UInt8]

    /// Ends the stream and returns the remaining bytes.
    mutating func finish() throws(DuplexError) -> [UInt8]
}

extension StreamingAudioEncoder {
    /// Encodes a chunk of mono samples held in an array.
    public mutating func encode(_ samples: [Int16]) throws(DuplexError) -> [UInt8] {
        // `withUnsafeBufferPointer` rethrows untyped errors; keep the typed error.
        var result: Result<[UInt8], DuplexError> = .success([])
        samples.withUnsafeBufferPointer { buffer in
            do throws(DuplexError) {
                result = .success(try encode(buffer))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }
}
