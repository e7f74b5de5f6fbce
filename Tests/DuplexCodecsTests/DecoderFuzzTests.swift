import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Decoder robustness: mutated and truncated files never crash")
struct DecoderFuzzTests {
    /// A small deterministic generator so a failure can be reproduced.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func webm() throws -> [UInt8] {
        let (packets, _, head) = try WebMOpusDecodingTests.opusPackets(seconds: 0.3)
        var blocks = packets.map { WebMWriter.Block.simple($0) }
        blocks.append(.xiphLaced(Array(packets[0..<3])))
        blocks.append(.ebmlLaced(Array(packets[3..<6])))
        blocks.append(.group(packets[6], discardPaddingNanoseconds: 2_000_000))
        return WebMWriter.file(opusHead: head, codecDelayNanoseconds: 6_500_000, blocks: blocks, blocksPerCluster: 6)
    }

    @Test("Random byte changes and cuts give audio or a typed error", arguments: ["wav", "flac", "opus", "mp3", "webm"])
    func mutations(kind: String) throws {
        let original: [UInt8]
        if let format = AudioFormat(rawValue: kind) {
            original = [UInt8](try TestSignal.encodeFile(TestSignal.tones(seconds: 0.3, sampleRate: 24_000), format: format, sampleRate: 24_000))
        } else {
            original = try Self.webm()
        }
        var random = SplitMix(state: UInt64(kind.utf8.reduce(0) { $0 &* 31 &+ Int($1) }))
        var decoded = 0
        for _ in 0..<150 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                bytes[index] = UInt8.random(in: 0...255, using: &random)
            }
            if Bool.random(using: &random) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &random)) }
            do {
                let audio = try AudioFileDecoder.decode(Data(bytes), maxSeconds: 5)
                #expect(audio.samples.allSatisfy { $0.isFinite })
                decoded += 1
            } catch {
                #expect(error.code == .invalidAudio || error.code == .messageTooLarge, "\(error)")
            }
        }
        print("fuzz \(kind): \(decoded)/150 mutated files still decoded")
    }

    @Test("The cap applies to WebM too, and an infinite cap is accepted")
    func caps() throws {
        let file = Data(try Self.webm())
        let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(file, maxSeconds: 0.1) }
        #expect(error.code == .messageTooLarge)
        #expect(try AudioFileDecoder.decode(file, maxSeconds: .infinity).duration > 0.3)
        let wav = try TestSignal.encodeFile(TestSignal.tones(seconds: 0.2, sampleRate: 24_000), format: .wav, sampleRate: 24_000)
        #expect(try AudioFileDecoder.decode(wav, maxSeconds: .infinity).samples.count == 4_800)
    }
}
