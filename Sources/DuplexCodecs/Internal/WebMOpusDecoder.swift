import COpus
import DuplexCore

/// Decodes the Opus track of a WebM file with libopus at 48 kHz.
enum WebMOpusDecoder {
    static func decode(_ bytes: [UInt8], maxSeconds: Double) throws(DuplexError) -> DecodedAudio {
        let stream = try WebMOpusDemuxer(bytes).demux()
        let head = try stream.opusHead.map { head throws(DuplexError) in try OpusHead(parsing: head) }
        let channels = head?.channels ?? stream.channels
        let preSkip = head?.preSkip ?? stream.codecDelaySamples
        let decoder = try OpusPacketDecoder(channels: channels, gain: head?.outputGain ?? 0)

        let maxSamples = AudioFileDecoder.frameLimit(maxSeconds: maxSeconds, sampleRate: 48_000)
        var samples: [Float] = []
        var toSkip = preSkip
        for packet in stream.packets {
            var decoded = try decoder.decode(bytes[packet.range])
            if packet.discardSamples > 0 { decoded.removeLast(min(decoded.count, packet.discardSamples)) }
            if toSkip > 0 {
                let skipped = min(toSkip, decoded.count)
                decoded.removeFirst(skipped)
                toSkip -= skipped
            }
            if samples.count + decoded.count > maxSamples { throw AudioFileDecoder.tooLong(maxSeconds: maxSeconds) }
            samples += decoded
        }
        guard !stream.packets.isEmpty else {
            throw DuplexError(.invalidAudio, "The WebM file has an Opus track but no audio packets.")
        }
        return DecodedAudio(samples: samples, sampleRate: 48_000, container: .webm, sourceChannels: channels)
    }
}

/// The fields of an `OpusHead` packet (RFC 7845 §5.1) a decoder needs.
struct OpusHead: Equatable {
    var channels: Int
    var preSkip: Int
    var inputSampleRate: Int
    /// Output gain in Q7.8 dB.
    var outputGain: Int16
    var mappingFamily: Int

    init(parsing bytes: [UInt8]) throws(DuplexError) {
        guard bytes.count >= 19, bytes.starts(with: Array("OpusHead".utf8)) else {
            throw DuplexError(.invalidAudio, "The Opus track's header (OpusHead) is missing or malformed.")
        }
        guard bytes[8] >> 4 == 0 else {
            throw DuplexError(.invalidAudio, "The Opus track's header has unsupported version \(bytes[8]).")
        }
        channels = Int(bytes[9])
        preSkip = Int(bytes[10]) | Int(bytes[11]) << 8
        inputSampleRate = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        outputGain = Int16(bitPattern: UInt16(bytes[16]) | UInt16(bytes[17]) << 8)
        mappingFamily = Int(bytes[18])
    }
}

/// One libopus decoder at 48 kHz that mixes its output down to mono.
final class OpusPacketDecoder {
    /// The longest Opus packet: 120 ms at 48 kHz.
    static let maxFrameSamples = 5_760

    let channels: Int
    private let decoder: OpaquePointer
    private var scratch: [Float]

    init(channels: Int, gain: Int16 = 0) throws(DuplexError) {
        guard channels == 1 || channels == 2 else {
            throw DuplexError(
                .invalidAudio, "Opus audio with \(channels) channels is not supported (only mono and stereo).")
        }
        var error: Int32 = 0
        guard let decoder = opus_decoder_create(48_000, Int32(channels), &error), error == OPUS_OK else {
            throw DuplexError(.internal, "libopus could not create a decoder: \(String(cString: opus_strerror(error))).")
        }
        if gain != 0 { _ = duplex_opus_decoder_set_gain(decoder, Int32(gain)) }
        self.channels = channels
        self.decoder = decoder
        scratch = [Float](repeating: 0, count: Self.maxFrameSamples * channels)
    }

    deinit {
        opus_decoder_destroy(decoder)
    }

    /// Decodes one packet to mono 48 kHz samples.
    func decode(_ packet: ArraySlice<UInt8>) throws(DuplexError) -> [Float] {
        guard !packet.isEmpty else { return [] }
        let count = packet.withUnsafeBufferPointer { input in
            scratch.withUnsafeMutableBufferPointer { output in
                opus_decode_float(
                    decoder, input.baseAddress, Int32(input.count), output.baseAddress!, Int32(Self.maxFrameSamples), 0)
            }
        }
        guard count >= 0 else {
            throw DuplexError(.invalidAudio, "A corrupt Opus packet: \(String(cString: opus_strerror(count))).")
        }
        let frames = Int(count)
        if channels == 1 { return Array(scratch[0..<frames]) }
        return (0..<frames).map { 0.5 * (scratch[2 * $0] + scratch[2 * $0 + 1]) }
    }
}
