import COgg
import COpus
import DuplexCore
import DuplexDSP

/// Streams Ogg Opus (RFC 7845): libopus packets of 20 ms in Ogg pages.
///
/// - Application `OPUS_APPLICATION_AUDIO` with the `OPUS_SIGNAL_VOICE` hint: the input is
///   synthesized speech played back, not a live call, so fidelity to the voice matters more
///   than VOIP's intelligibility processing (high-pass, emphasis), while the hint still
///   steers the mode decision towards speech coding. Variable bit rate around
///   ``defaultBitRate``.
/// - libopus takes 8/12/16/24/48 kHz; other input rates are resampled (libsoxr) to the next
///   supported rate above (22.05 kHz → 24 kHz, 32/44.1 kHz → 48 kHz). `OpusHead` records the
///   original input rate.
/// - Pre-skip is the encoder's lookahead in 48 kHz samples; granule positions count 48 kHz
///   samples including pre-skip; ``finish()`` pads the last frame with silence, encodes
///   enough to flush the lookahead, and sets the last page's granule position so decoders
///   trim the padding (RFC 7845 §4.4).
/// - Pages: the two header pages go out with the first ``encode(_:)``, the first audio page
///   as soon as the first 20 ms packet exists (so the response starts at once); after that
///   a page is flushed whenever ``packetsPerPage`` packets (100 ms) are waiting, which keeps
///   Ogg's framing overhead near 2.5 kbit/s instead of ~11 kbit/s with a page per packet.
///   A caller feeding large chunks (a synthesized clause at a time) gets all of a chunk's
///   pages back from that call.
///   ``finish()`` flushes the rest.
public final class OggOpusEncoder: StreamingAudioEncoder {
    public var format: AudioFormat { .opus }
    public let sampleRate: Int
    /// The target bit rate in bits per second.
    public static let defaultBitRate = 32_000
    /// The frame (packet) duration in milliseconds.
    public static let frameMilliseconds = 20
    /// Packets gathered into one Ogg page after the first audio page.
    public static let packetsPerPage = 5
    /// libopus complexity (0–10; 10 is its default). 5 takes half the CPU time of 10
    /// (≈ 7 ms vs 14 ms of CPU per second of 24 kHz audio, measured) and is ample for speech.
    public static let complexity = 5

    /// The rate libopus runs at (``sampleRate``, or the next supported rate above it).
    public let encoderRate: Int
    /// The pre-skip written to `OpusHead`, in 48 kHz samples.
    public let preSkip: Int

    private let encoder: OpaquePointer
    private let stream: UnsafeMutablePointer<ogg_stream_state>
    private let resampler: Resampler?
    private let frameSize: Int
    private let samplesPer48k: Int
    private var pending: [Int16] = []
    private var pendingStart = 0
    /// Samples (at `encoderRate`) received so far, after resampling.
    private var received = 0
    /// Frames encoded so far.
    private var framesEncoded = 0
    private var packetNumber: Int64 = 0
    /// Audio packets submitted but not yet flushed into pages.
    private var unflushedPackets = 0
    private var phase = Phase.fresh
    private var packet = [UInt8](repeating: 0, count: 4_000)

    private enum Phase {
        /// Nothing written yet.
        case fresh
        /// Header pages written; the first audio page goes out with the first packet.
        case headersWritten
        /// Audio pages flow every ``packetsPerPage`` packets.
        case streaming
        case finished
    }

    /// Creates an encoder for mono input at `sampleRate`.
    /// - Throws: ``DuplexError`` `internal` when libopus or libogg refuse to start.
    public init(sampleRate: Int, bitRate: Int = OggOpusEncoder.defaultBitRate) throws(DuplexError) {
        guard sampleRate > 0, sampleRate <= 48_000 else {
            throw DuplexError(.invalidConfiguration, "Ogg Opus input must be at most 48000 Hz (got \(sampleRate)).")
        }
        let rate = [8_000, 12_000, 16_000, 24_000, 48_000].first { $0 >= sampleRate } ?? 48_000
        self.sampleRate = sampleRate
        self.encoderRate = rate
        self.frameSize = rate * Self.frameMilliseconds / 1000
        self.samplesPer48k = 48_000 / rate
        resampler = rate == sampleRate ? nil : try Resampler(from: sampleRate, to: rate)

        var error: Int32 = 0
        guard let created = opus_encoder_create(Int32(rate), 1, OPUS_APPLICATION_AUDIO, &error), error == OPUS_OK else {
            throw DuplexError(.internal, "libopus could not create an encoder at \(rate) Hz: \(String(cString: opus_strerror(error))).")
        }
        encoder = created
        _ = duplex_opus_encoder_set_bitrate(created, Int32(bitRate))
        _ = duplex_opus_encoder_set_signal_voice(created)
        _ = duplex_opus_encoder_set_complexity(created, Int32(Self.complexity))
        var lookahead: Int32 = 0
        _ = duplex_opus_encoder_get_lookahead(created, &lookahead)
        preSkip = Int(lookahead) * (48_000 / rate)

        stream = .allocate(capacity: 1)
        guard ogg_stream_init(stream, Int32.random(in: 1...Int32.max)) == 0 else {
            stream.deallocate()
            opus_encoder_destroy(created)
            throw DuplexError(.internal, "libogg could not initialize a stream.")
        }
    }

    deinit {
        ogg_stream_clear(stream)
        stream.deallocate()
        opus_encoder_destroy(encoder)
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(DuplexError) -> [UInt8] {
        var output: [UInt8] = []
        switch phase {
        case .finished: throw DuplexError(.invalidState, "The opus stream is already finished.")
        case .fresh:
            writeHeaders(into: &output)
            phase = .headersWritten
        case .headersWritten, .streaming: break
        }
        if let resampler {
            let resampled = SampleConversion.int16(from: resampler.process(samples.map { Float($0) / 32_768 }))
            pending.append(contentsOf: resampled)
            received += resampled.count
        } else {
            pending.append(contentsOf: samples)
            received += samples.count
        }
        try encodeWholeFrames(last: nil)
        if unflushedPackets >= Self.packetsPerPage || (phase == .headersWritten && unflushedPackets > 0) {
            flushPages(into: &output)
            phase = .streaming
        }
        return output
    }

    public func finish() throws(DuplexError) -> [UInt8] {
        var output: [UInt8] = []
        switch phase {
        case .finished: throw DuplexError(.invalidState, "The opus stream is already finished.")
        case .fresh: writeHeaders(into: &output)
        case .headersWritten, .streaming: break
        }
        phase = .finished
        if let resampler {
            let tail = SampleConversion.int16(from: resampler.flush())
            pending.append(contentsOf: tail)
            received += tail.count
        }
        // Decoders drop `preSkip` samples first: encode until the decoded length covers
        // pre-skip + every input sample, padding with silence.
        let needed48 = preSkip + received * samplesPer48k
        let frame48 = frameSize * samplesPer48k
        let framesNeeded = max((needed48 + frame48 - 1) / frame48, framesEncoded + 1)
        let padding = max(0, (framesNeeded - framesEncoded) * frameSize - (pending.count - pendingStart))
        pending.append(contentsOf: repeatElement(0, count: padding))
        try encodeWholeFrames(last: (frames: framesNeeded, granule: needed48))
        flushPages(into: &output)
        return output
    }

    // MARK: - Internals

    private func writeHeaders(into output: inout [UInt8]) {
        var head: [UInt8] = []
        head.appendASCII("OpusHead")
        head.append(1)  // version
        head.append(1)  // channels
        head.appendLittleEndian(UInt16(preSkip))
        head.appendLittleEndian(UInt32(sampleRate))
        head.appendLittleEndian(UInt16(0))  // output gain
        head.append(0)  // channel mapping family 0 (mono/stereo)
        submit(head, beginning: true, end: false, granule: 0)
        flushPages(into: &output)

        var tags: [UInt8] = []
        tags.appendASCII("OpusTags")
        let vendor = Array(String(cString: opus_get_version_string()).utf8)
        tags.appendLittleEndian(UInt32(vendor.count))
        tags.append(contentsOf: vendor)
        let comment = Array("ENCODER=Duplex".utf8)
        tags.appendLittleEndian(UInt32(1))
        tags.appendLittleEndian(UInt32(comment.count))
        tags.append(contentsOf: comment)
        submit(tags, beginning: false, end: false, granule: 0)
        flushPages(into: &output)
    }

    /// Encodes every complete frame in `pending`; with `last`, stops after `last.frames`
    /// frames and marks the final packet end-of-stream with granule `last.granule`.
    private func encodeWholeFrames(last: (frames: Int, granule: Int)?) throws(DuplexError) {
        while pending.count - pendingStart >= frameSize {
            if let last, framesEncoded >= last.frames { break }
            let length = pending.withUnsafeBufferPointer { input in
                packet.withUnsafeMutableBufferPointer { out in
                    opus_encode(
                        encoder, input.baseAddress! + pendingStart, Int32(frameSize), out.baseAddress!, Int32(out.count))
                }
            }
            guard length > 0 else {
                throw DuplexError(.internal, "libopus failed to encode a frame: \(String(cString: opus_strerror(length))).")
            }
            pendingStart += frameSize
            framesEncoded += 1
            // A granule position counts the 48 kHz samples decoded so far, pre-skip included;
            // the last one stops at pre-skip + input length, which trims the padding.
            var position = framesEncoded * frameSize * samplesPer48k
            var isLast = false
            if let last, framesEncoded == last.frames {
                position = last.granule
                isLast = true
            }
            submit(Array(packet[0..<Int(length)]), beginning: false, end: isLast, granule: position)
            unflushedPackets += 1
        }
        if pendingStart >= 4_096 {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
    }

    private func submit(_ bytes: [UInt8], beginning: Bool, end: Bool, granule: Int) {
        var copy = bytes
        copy.withUnsafeMutableBufferPointer { buffer in
            var op = ogg_packet()
            op.packet = buffer.baseAddress
            op.bytes = buffer.count
            op.b_o_s = beginning ? 1 : 0
            op.e_o_s = end ? 1 : 0
            op.granulepos = ogg_int64_t(granule)
            op.packetno = ogg_int64_t(packetNumber)
            _ = ogg_stream_packetin(stream, &op)
        }
        packetNumber += 1
    }

    private func flushPages(into output: inout [UInt8]) {
        var page = ogg_page()
        while ogg_stream_flush(stream, &page) != 0 {
            output.append(contentsOf: UnsafeBufferPointer(start: page.header, count: page.header_len))
            output.append(contentsOf: UnsafeBufferPointer(start: page.body, count: page.body_len))
        }
        unflushedPackets = 0
    }
}
