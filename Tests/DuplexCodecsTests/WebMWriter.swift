import Foundation

/// A test-only WebM writer: just enough EBML to wrap Opus packets the way browsers'
/// MediaRecorder does (unknown-size Segment and Clusters, SimpleBlocks), plus BlockGroups
/// with DiscardPadding and laced blocks to exercise the rest of the demuxer.
struct WebMWriter {
    enum Block {
        /// One packet in a SimpleBlock.
        case simple([UInt8])
        /// One packet in a BlockGroup with DiscardPadding in nanoseconds.
        case group([UInt8], discardPaddingNanoseconds: Int64)
        /// Several packets in one SimpleBlock with Xiph lacing.
        case xiphLaced([[UInt8]])
        /// Several packets in one SimpleBlock with EBML lacing.
        case ebmlLaced([[UInt8]])
    }

    static func element(_ id: UInt32, _ body: [UInt8]) -> [UInt8] {
        idBytes(id) + size(body.count) + body
    }

    static func unknownSize(_ id: UInt32, _ body: [UInt8]) -> [UInt8] {
        idBytes(id) + [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + body
    }

    static func unsigned(_ id: UInt32, _ value: UInt64) -> [UInt8] {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * $0)) }
        let trimmed = Array(bytes.drop { $0 == 0 })
        return element(id, trimmed.isEmpty ? [0] : trimmed)
    }

    static func string(_ id: UInt32, _ value: String) -> [UInt8] { element(id, Array(value.utf8)) }

    static func idBytes(_ id: UInt32) -> [UInt8] {
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: id >> UInt32(24 - 8 * $0)) }
        return Array(bytes.drop { $0 == 0 })
    }

    /// A size as an 8-byte VINT (as MediaRecorder does for large elements; valid for any size).
    static func size(_ value: Int) -> [UInt8] {
        [0x01] + (1..<8).map { UInt8(truncatingIfNeeded: UInt64(value) >> UInt64(56 - 8 * $0)) }
    }

    /// EBML lacing's signed size difference as a 2-byte VINT.
    static func signedVint(_ value: Int) -> [UInt8] {
        let raw = UInt16(value + 0x1FFF) | 0x4000
        return [UInt8(raw >> 8), UInt8(raw & 0xFF)]
    }

    static func file(opusHead: [UInt8], codecDelayNanoseconds: UInt64, blocks: [Block], blocksPerCluster: Int = 25) -> [UInt8] {
        let header = element(0x1A45_DFA3,
            unsigned(0x4286, 1) + unsigned(0x42F7, 1) + unsigned(0x42F2, 4) + unsigned(0x42F3, 8)
            + string(0x4282, "webm") + unsigned(0x4287, 4) + unsigned(0x4285, 2))
        let info = element(0x1549_A966, unsigned(0x2AD7B1, 1_000_000) + string(0x4D80, "test") + string(0x5741, "test"))
        var sampleRate = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: Double(48_000).bitPattern.bigEndian) { sampleRate = Array($0) }
        let track = element(0xAE,
            unsigned(0xD7, 1) + unsigned(0x73C5, 1) + unsigned(0x83, 2) + string(0x86, "A_OPUS")
            + element(0x63A2, opusHead) + unsigned(0x56AA, codecDelayNanoseconds) + unsigned(0x56BB, 80_000_000)
            + element(0xE1, element(0xB5, sampleRate) + unsigned(0x9F, 1)))
        let tracks = element(0x1654_AE6B, track)

        var clusters: [UInt8] = []
        var index = 0
        while index < blocks.count {
            var body = unsigned(0xE7, UInt64(index * 20))
            for (offset, block) in blocks[index..<min(blocks.count, index + blocksPerCluster)].enumerated() {
                let prefix: [UInt8] = [0x81, 0x00, UInt8(offset * 20 & 0x7F)]
                switch block {
                case .simple(let packet):
                    body += element(0xA3, prefix + [0x80] + packet)
                case .group(let packet, let discard):
                    body += element(0xA0,
                        element(0xA1, prefix + [0x00] + packet)
                        + element(0x75A2, (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: discard) >> UInt64(56 - 8 * $0)) }))
                case .xiphLaced(let packets):
                    var lacing: [UInt8] = [UInt8(packets.count - 1)]
                    for packet in packets.dropLast() {
                        lacing += Array(repeating: 255, count: packet.count / 255) + [UInt8(packet.count % 255)]
                    }
                    body += element(0xA3, prefix + [0x82] + lacing + packets.joined())
                case .ebmlLaced(let packets):
                    var lacing: [UInt8] = [UInt8(packets.count - 1)]
                    lacing += [0x40 | UInt8(packets[0].count >> 8), UInt8(packets[0].count & 0xFF)]
                    for i in 1..<packets.count - 1 { lacing += signedVint(packets[i].count - packets[i - 1].count) }
                    body += element(0xA3, prefix + [0x86] + lacing + packets.joined())
                }
            }
            clusters += unknownSize(0x1F43_B675, body)
            index += blocksPerCluster
        }
        return header + unknownSize(0x1853_8067, info + tracks + clusters)
    }
}
