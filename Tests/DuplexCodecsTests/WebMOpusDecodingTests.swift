import COpus
import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("WebM/Opus uploads (browsers' MediaRecorder)")
struct WebMOpusDecodingTests {
    /// 48 kHz Opus packets of 20 ms encoded with libopus directly, and the encoder's pre-skip.
    static func opusPackets(seconds: Double) throws -> (packets: [[UInt8]], preSkip: Int, head: [UInt8]) {
        var error: Int32 = 0
        let encoder = try #require(opus_encoder_create(48_000, 1, OPUS_APPLICATION_AUDIO, &error))
        defer { opus_encoder_destroy(encoder) }
        let input = TestSignal.tones(seconds: seconds, sampleRate: 48_000)
        var packets: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 4_000)
        var start = 0
        while start + 960 <= input.count {
            let length = input[start..<start + 960].withUnsafeBufferPointer {
                opus_encode(encoder, $0.baseAddress!, 960, &buffer, 4_000)
            }
            try #require(length > 0)
            packets.append(Array(buffer[0..<Int(length)]))
            start += 960
        }
        let preSkip = 312  // libopus' lookahead at 48 kHz, as MediaRecorder writes it
        var head = Array("OpusHead".utf8) + [1, 1, UInt8(preSkip & 0xFF), UInt8(preSkip >> 8)]
        head += [0x80, 0xBB, 0x00, 0x00, 0x00, 0x00, 0x00]  // 48000 Hz, gain 0, family 0
        return (packets, preSkip, head)
    }

    /// libopus' own decoding of `packets`, pre-skip removed: the reference.
    static func reference(_ packets: [[UInt8]], preSkip: Int, discardAtEnd: Int = 0) throws -> [Float] {
        var error: Int32 = 0
        let decoder = try #require(opus_decoder_create(48_000, 1, &error))
        defer { opus_decoder_destroy(decoder) }
        var output: [Float] = []
        var pcm = [Float](repeating: 0, count: 5_760)
        for packet in packets {
            let count = opus_decode_float(decoder, packet, Int32(packet.count), &pcm, 5_760, 0)
            try #require(count > 0)
            output += pcm[0..<Int(count)]
        }
        return Array(output.dropFirst(preSkip).dropLast(discardAtEnd))
    }

    @Test("SimpleBlocks in unknown-size clusters decode exactly as libopus decodes the packets")
    func simpleBlocks() throws {
        let (packets, preSkip, head) = try Self.opusPackets(seconds: 1.5)
        let file = WebMWriter.file(opusHead: head, codecDelayNanoseconds: 6_500_000, blocks: packets.map { .simple($0) })
        let decoded = try AudioFileDecoder.decode(Data(file))
        #expect(decoded.container == .webm)
        #expect(decoded.sampleRate == 48_000)
        #expect(decoded.samples == (try Self.reference(packets, preSkip: preSkip)))
        #expect(abs(decoded.duration - (1.5 - 0.0065)) < 0.002)
        let middle = decoded.samples[decoded.samples.count / 4..<decoded.samples.count * 3 / 4]
        let p440 = TestSignal.power(of: 440, in: middle, sampleRate: 48_000)
        let p700 = TestSignal.power(of: 700, in: middle, sampleRate: 48_000)
        #expect(p440 > 1_000 * p700)
        // And at 16 kHz for Whisper.
        let whisper = try decoded.whisperSamples()
        #expect(abs(Double(whisper.count) / 16_000 - decoded.duration) < 0.002)
    }

    @Test("BlockGroups with DiscardPadding, Xiph and EBML lacing")
    func blockGroupsAndLacing() throws {
        let (packets, preSkip, head) = try Self.opusPackets(seconds: 0.5)
        var blocks: [WebMWriter.Block] = []
        blocks.append(.xiphLaced(Array(packets[0..<3])))
        blocks.append(.ebmlLaced(Array(packets[3..<7])))
        blocks += packets[7..<packets.count - 1].map { .simple($0) }
        // Drop the last 5 ms (240 samples) of the final packet.
        blocks.append(.group(packets[packets.count - 1], discardPaddingNanoseconds: 5_000_000))
        let file = WebMWriter.file(opusHead: head, codecDelayNanoseconds: 6_500_000, blocks: blocks, blocksPerCluster: 7)
        let decoded = try AudioFileDecoder.decode(Data(file))
        #expect(decoded.samples == (try Self.reference(packets, preSkip: preSkip, discardAtEnd: 240)))
    }

    @Test("A recording cut off mid-cluster decodes up to the cut")
    func truncatedRecording() throws {
        let (packets, _, head) = try Self.opusPackets(seconds: 1)
        let file = WebMWriter.file(opusHead: head, codecDelayNanoseconds: 6_500_000, blocks: packets.map { .simple($0) })
        let decoded = try AudioFileDecoder.decode(Data(file[0..<file.count * 2 / 3 + 7]))
        #expect(decoded.duration > 0.4 && decoded.duration < 0.9)
    }

    @Test("WebM with another codec, no audio track or a broken header is refused")
    func refused() throws {
        let (packets, _, head) = try Self.opusPackets(seconds: 0.1)
        var vorbis = WebMWriter.file(opusHead: head, codecDelayNanoseconds: 0, blocks: packets.map { .simple($0) })
        let codec = Array("A_OPUS".utf8)
        let at = try #require((0..<vorbis.count - 6).first { Array(vorbis[$0..<$0 + 6]) == codec })
        vorbis.replaceSubrange(at..<at + 6, with: Array("A_VORB".utf8))
        let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(Data(vorbis)) }
        #expect(error.code == .invalidAudio && error.message.contains("A_VORB"))

        let headerOnly = WebMWriter.element(0x1A45_DFA3, WebMWriter.string(0x4282, "webm"))
        let noTracks = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(Data(headerOnly)) }
        #expect(noTracks.code == .invalidAudio)

        let file = WebMWriter.file(opusHead: head, codecDelayNanoseconds: 0, blocks: packets.map { .simple($0) })
        for cut in [4, 20, 60, 120] {
            let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(Data(file[0..<cut])) }
            #expect(error.code == .invalidAudio)
        }
    }

    @Test("Corrupt Opus packets throw instead of crashing")
    func corruptPackets() throws {
        let (packets, _, head) = try Self.opusPackets(seconds: 0.2)
        // A code-3 packet whose frame count byte claims 0 frames is invalid.
        var blocks = packets.map { WebMWriter.Block.simple($0) }
        blocks.insert(.simple([0x03, 0x00]), at: 3)
        let file = WebMWriter.file(opusHead: head, codecDelayNanoseconds: 0, blocks: blocks)
        let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(Data(file)) }
        #expect(error.code == .invalidAudio)
    }
}
