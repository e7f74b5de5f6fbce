import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Streaming: bytes leave as soon as audio is encoded")
struct StreamingTests {
    @Test(
        "The first 20 or 40 ms chunk already returns bytes",
        arguments: [AudioFormat.wav, .pcm, .opus, .flac], [20, 40])
    func firstChunk(format: AudioFormat, milliseconds: Int) throws {
        var encoder = try AudioEncoders.make(format, sampleRate: 24_000)
        let chunk = TestSignal.tones(seconds: Double(milliseconds) / 1000, sampleRate: 24_000)
        let bytes = try encoder.encode(chunk)
        #expect(!bytes.isEmpty)
        switch format {
        case .wav: #expect(bytes.count == 44 + chunk.count * 2)
        case .pcm: #expect(bytes.count == chunk.count * 2)
        case .opus:
            // OpusHead page, OpusTags page, and already a page with the first audio packet.
            let pages = try OggPage.parse(bytes)
            #expect(pages.count == 3)
            #expect(pages.last?.packets.count == milliseconds / 20)
        default: break
        }
    }

    @Test("FLAC: header first, then a frame once a 1152-sample block is complete")
    func flacFrames() throws {
        var encoder = try AudioEncoders.make(.flac, sampleRate: 24_000)
        let chunk = TestSignal.tones(seconds: 0.02, sampleRate: 24_000)
        let header = try encoder.encode(chunk)
        #expect(header.starts(with: Array("fLaC".utf8)))
        var audio: [UInt8] = []
        for _ in 0..<4 { audio += try encoder.encode(chunk) }  // 100 ms in total
        #expect(!audio.isEmpty, "no FLAC frame after 100 ms")
        #expect(audio.first == 0xFF)  // frame sync 0xFFF8
    }

    @Test("MP3: lame emits its first frame after a few tens of milliseconds")
    func mp3Latency() throws {
        var encoder = try AudioEncoders.make(.mp3, sampleRate: 24_000)
        let chunk = TestSignal.tones(seconds: 0.02, sampleRate: 24_000)
        var fed = 0
        var firstBytesAt: Int?
        while fed < 500, firstBytesAt == nil {
            fed += 20
            if try !encoder.encode(chunk).isEmpty { firstBytesAt = fed }
        }
        print("mp3: first bytes after \(firstBytesAt.map { "\($0) ms" } ?? "none") of input in 20 ms chunks")
        let at = try #require(firstBytesAt)
        #expect(at <= 200)
    }
}
