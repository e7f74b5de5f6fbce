/// An Ogg page parsed independently of libogg, with its CRC checked.
struct OggPage {
    var flags: UInt8
    var granule: Int64
    var serial: UInt32
    var sequence: UInt32
    var crcMatches: Bool
    /// Packets completed on this page (a packet continued onto the next page is not split
    /// across pages by the encoder under test, so this is exact here).
    var packets: [[UInt8]]

    var beginsStream: Bool { flags & 0x02 != 0 }
    var endsStream: Bool { flags & 0x04 != 0 }

    struct Malformed: Error {}

    static func parse(_ bytes: [UInt8]) throws -> [OggPage] {
        var pages: [OggPage] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + 27 <= bytes.count, Array(bytes[offset..<offset + 4]) == Array("OggS".utf8) else { throw Malformed() }
            func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[offset + o + $1]) << (8 * UInt32($1)) } }
            let granule = (0..<8).reduce(Int64(0)) { $0 | Int64(bytes[offset + 6 + $1]) << (8 * Int64($1)) }
            let segments = Int(bytes[offset + 26])
            guard offset + 27 + segments <= bytes.count else { throw Malformed() }
            let lacing = bytes[offset + 27..<offset + 27 + segments]
            let bodyLength = lacing.reduce(0) { $0 + Int($1) }
            let end = offset + 27 + segments + bodyLength
            guard end <= bytes.count else { throw Malformed() }
            var page = Array(bytes[offset..<end])
            let stored = u32(22)
            page[22] = 0; page[23] = 0; page[24] = 0; page[25] = 0
            var packets: [[UInt8]] = []
            var current: [UInt8] = []
            var bodyOffset = offset + 27 + segments
            for length in lacing {
                current += bytes[bodyOffset..<bodyOffset + Int(length)]
                bodyOffset += Int(length)
                if length < 255 {
                    packets.append(current)
                    current = []
                }
            }
            pages.append(OggPage(
                flags: bytes[offset + 5], granule: granule, serial: u32(14), sequence: u32(18),
                crcMatches: crc(page) == stored, packets: packets))
            offset = end
        }
        return pages
    }

    /// Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR.
    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0
        for byte in bytes {
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? crc << 1 ^ 0x04C1_1DB7 : crc << 1 }
        }
        return crc
    }
}
