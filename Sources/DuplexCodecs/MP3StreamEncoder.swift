import CLame
import DuplexCore

/// Streams MP3 (libmp3lame): constant bit rate, mono, no Xing/Info tag.
///
/// - CBR ``defaultBitRate`` (MPEG-2 Layer III at 16/22.05/24 kHz, MPEG-1 at 32/44.1/48 kHz,
///   MPEG-2.5 at 8 kHz), so a player can compute the duration from the size.
/// - The Xing/Info tag is disabled: lame writes it by seeking back to the first frame at the
///   end, which a streamed response cannot do (and a blank tag frame would be decoded as
///   silence by some players).
/// - LAME buffers one granule plus its psychoacoustic lookahead before the first frame comes
///   out: at 24 kHz the first 20 ms chunk returns no bytes and the first frame leaves once
///   40 ms are in (measured in `StreamingTests`). ``finish()`` calls `lame_encode_flush`, which pads the last
///   frame; decoders see the encoder delay (576 + 529 samples) and padding as extra silence.
public final class MP3StreamEncoder: StreamingAudioEncoder {
    public var format: AudioFormat { .mp3 }
    public let sampleRate: Int
    /// The constant bit rate in kbit/s.
    public static let defaultBitRate = 64

    private let lame: OpaquePointer
    private var finished = false
    private var buffer: [UInt8] = []

    /// Creates an encoder for mono input at `sampleRate`.
    /// - Throws: ``DuplexError`` `internal` when libmp3lame rejects the parameters.
    public init(sampleRate: Int, bitRate: Int = MP3StreamEncoder.defaultBitRate) throws(DuplexError) {
        guard let lame = lame_init() else {
            throw DuplexError(.internal, "libmp3lame could not allocate an encoder.")
        }
        lame_set_num_channels(lame, 1)
        lame_set_mode(lame, MONO)
        lame_set_in_samplerate(lame, Int32(sampleRate))
        lame_set_out_samplerate(lame, Int32(sampleRate))
        lame_set_VBR(lame, vbr_off)
        lame_set_brate(lame, Int32(bitRate))
        lame_set_quality(lame, 5)
        lame_set_bWriteVbrTag(lame, 0)
        guard lame_init_params(lame) >= 0 else {
            lame_close(lame)
            throw DuplexError(.internal, "libmp3lame rejected mono \(bitRate) kbit/s at \(sampleRate) Hz.")
        }
        self.lame = lame
        self.sampleRate = sampleRate
    }

    deinit {
        lame_close(lame)
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The mp3 stream is already finished.") }
        guard !samples.isEmpty else { return [] }
        // lame's documented worst case: 1.25 × samples + 7200 bytes.
        let capacity = samples.count * 5 / 4 + 7_200
        if buffer.count < capacity { buffer = [UInt8](repeating: 0, count: capacity) }
        let written = buffer.withUnsafeMutableBufferPointer { out in
            // Mono: the right channel is ignored.
            lame_encode_buffer(lame, samples.baseAddress, samples.baseAddress, Int32(samples.count), out.baseAddress, Int32(out.count))
        }
        guard written >= 0 else {
            throw DuplexError(.internal, "libmp3lame failed to encode (code \(written)).")
        }
        return Array(buffer[0..<Int(written)])
    }

    public func finish() throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The mp3 stream is already finished.") }
        finished = true
        if buffer.count < 7_200 { buffer = [UInt8](repeating: 0, count: 7_200) }
        let written = buffer.withUnsafeMutableBufferPointer { out in
            lame_encode_flush(lame, out.baseAddress, Int32(out.count))
        }
        guard written >= 0 else {
            throw DuplexError(.internal, "libmp3lame failed to flush (code \(written)).")
        }
        return Array(buffer[0..<Int(written)])
    }
}
