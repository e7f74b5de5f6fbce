import CFLAC
import DuplexCore

/// Streams FLAC (libFLAC stream encoder): 16-bit mono, compression level 5.
///
/// The encoder writes through a callback into a buffer that ``encode(_:)`` and ``finish()``
/// drain. It has no seek callback, so STREAMINFO keeps "unknown" totals (0 samples, zero MD5)
/// instead of being patched at the end, which every FLAC decoder accepts for streams.
/// The `fLaC` marker and STREAMINFO go out with the first call; frames follow each time a
/// block of ``blockSize`` samples is complete (1152 samples = 48 ms at 24 kHz, smaller than
/// level 5's 4096 so audio leaves sooner, at a cost of about 1% in size).
public final class FLACStreamEncoder: StreamingAudioEncoder {
    public var format: AudioFormat { .flac }
    public let sampleRate: Int
    /// Samples per FLAC frame.
    public static let blockSize = 1_152

    private let encoder: UnsafeMutablePointer<FLAC__StreamEncoder>
    private let sink = Sink()
    private var finished = false
    private var wide: [Int32] = []

    /// Collects the bytes libFLAC writes; owned by the encoder, handed to C unretained.
    private final class Sink {
        var bytes: [UInt8] = []
    }

    /// Creates an encoder for mono input at `sampleRate`.
    /// - Throws: ``DuplexError`` `internal` when libFLAC refuses the settings.
    public init(sampleRate: Int, compressionLevel: UInt32 = 5) throws(DuplexError) {
        guard let encoder = FLAC__stream_encoder_new() else {
            throw DuplexError(.internal, "libFLAC could not allocate an encoder.")
        }
        self.encoder = encoder
        self.sampleRate = sampleRate
        _ = FLAC__stream_encoder_set_channels(encoder, 1)
        _ = FLAC__stream_encoder_set_bits_per_sample(encoder, 16)
        _ = FLAC__stream_encoder_set_sample_rate(encoder, UInt32(sampleRate))
        _ = FLAC__stream_encoder_set_compression_level(encoder, compressionLevel)
        _ = FLAC__stream_encoder_set_blocksize(encoder, UInt32(Self.blockSize))
        _ = FLAC__stream_encoder_set_streamable_subset(encoder, 1)
        let status = FLAC__stream_encoder_init_stream(
            encoder,
            { _, buffer, bytes, _, _, clientData in
                guard let clientData, let buffer else { return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR }
                let sink = Unmanaged<Sink>.fromOpaque(clientData).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: bytes))
                return FLAC__STREAM_ENCODER_WRITE_STATUS_OK
            },
            nil, nil, nil,
            Unmanaged.passUnretained(sink).toOpaque())
        guard status == FLAC__STREAM_ENCODER_INIT_STATUS_OK else {
            FLAC__stream_encoder_delete(encoder)
            throw DuplexError(.internal, "libFLAC could not start a 16-bit mono stream at \(sampleRate) Hz (init status \(status.rawValue)).")
        }
    }

    deinit {
        // `finish` (if not called yet) writes into `sink`, which is still alive here.
        FLAC__stream_encoder_delete(encoder)
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The flac stream is already finished.") }
        if !samples.isEmpty {
            wide.removeAll(keepingCapacity: true)
            wide.append(contentsOf: samples.lazy.map { Int32($0) })
            let ok = wide.withUnsafeBufferPointer { buffer in
                FLAC__stream_encoder_process_interleaved(encoder, buffer.baseAddress, UInt32(buffer.count))
            }
            guard ok != 0 else { throw failure("encode") }
        }
        return drain()
    }

    public func finish() throws(DuplexError) -> [UInt8] {
        guard !finished else { throw DuplexError(.invalidState, "The flac stream is already finished.") }
        finished = true
        guard FLAC__stream_encoder_finish(encoder) != 0 else { throw failure("finish") }
        return drain()
    }

    private func drain() -> [UInt8] {
        defer { sink.bytes.removeAll(keepingCapacity: true) }
        return sink.bytes
    }

    private func failure(_ step: String) -> DuplexError {
        let state = FLAC__stream_encoder_get_state(encoder)
        let name = FLAC__stream_encoder_get_resolved_state_string(encoder).map { String(cString: $0) } ?? "state \(state.rawValue)"
        return DuplexError(.internal, "libFLAC failed to \(step): \(name).")
    }
}
