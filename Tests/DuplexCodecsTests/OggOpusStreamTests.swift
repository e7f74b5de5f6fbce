import COpus
import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Ogg Opus stream structure (RFC 7845)")
struct OggOpusStreamTests {
    @Test("Headers, CRCs, sequence numbers and 48 kHz granule positions", arguments: [24_000, 22_050, 16_000])
    func structure(rate: Int) throws {
        let input = TestSignal.tones(seconds: 1.01, sampleRate: rate)
        var encoder = try OggOpusEncoder(sampleRate: rate)
        var bytes: [UInt8] = []
        var start = 0
        while start < input.count {
            let end = min(input.count, start + rate * 30 / 1000)
            bytes += try encoder.encode(Array(input[start..<end]))
            start = end
        }
        bytes += try encoder.finish()
        let pages = try OggPage.parse(bytes)
        try #require(pages.count >= 4)

        #expect(pages.allSatisfy { $0.crcMatches })
        #expect(pages.allSatisfy { $0.serial == pages[0].serial })
        #expect(pages.map(\.sequence) == (0..<UInt32(pages.count)).map { $0 })

        // OpusHead alone on the first page, beginning of stream, granule 0.
        #expect(pages[0].beginsStream && pages[0].granule == 0 && pages[0].packets.count == 1)
        let head = pages[0].packets[0]
        #expect(head.count == 19 && head.starts(with: Array("OpusHead".utf8)))
        #expect(head[8] == 1 && head[9] == 1 && head[18] == 0)
        let preSkip = Int(head[10]) | Int(head[11]) << 8
        #expect(preSkip == encoder.preSkip && preSkip > 0)
        let inputRate = Int(head[12]) | Int(head[13]) << 8 | Int(head[14]) << 16 | Int(head[15]) << 24
        #expect(inputRate == rate)
        // OpusTags alone on the second page.
        #expect(pages[1].granule == 0 && pages[1].packets.count == 1)
        #expect(pages[1].packets[0].starts(with: Array("OpusTags".utf8)))

        // Audio pages: 20 ms packets, granule = 960 × packets so far, the last one trimmed.
        let audio = pages.dropFirst(2)
        var packets = 0
        for page in audio.dropLast() {
            packets += page.packets.count
            #expect(page.granule == Int64(packets * 960))
            #expect(!page.endsStream && !page.beginsStream)
        }
        let last = try #require(audio.last)
        packets += last.packets.count
        #expect(last.endsStream)
        let resampledLength = Int((Double(input.count) * Double(encoder.encoderRate) / Double(rate)).rounded())
        let expectedGranule = preSkip + resampledLength * 48_000 / encoder.encoderRate
        #expect(abs(Int(last.granule) - expectedGranule) <= 2 * 48_000 / encoder.encoderRate)
        #expect(Int(last.granule) <= packets * 960 && Int(last.granule) > (packets - 1) * 960)

        // Every audio packet decodes with libopus to exactly 20 ms.
        var error: Int32 = 0
        let decoder = try #require(opus_decoder_create(48_000, 1, &error))
        defer { opus_decoder_destroy(decoder) }
        var pcm = [Float](repeating: 0, count: 5_760)
        for packet in audio.flatMap(\.packets) {
            let count = opus_decode_float(decoder, packet, Int32(packet.count), &pcm, 5_760, 0)
            #expect(count == 960)
        }
    }
}
