/// Reads EBML element headers (Matroska/WebM) from a byte array.
struct EBMLReader {
    /// An element header: its ID (marker bits kept, as specs write them), the data range,
    /// and whether the size was "unknown" (all ones, as live writers such as MediaRecorder
    /// emit for Segment and Cluster).
    struct Header {
        var id: UInt32
        var dataStart: Int
        /// Declared data size, or nil when unknown.
        var size: Int?
    }

    let bytes: [UInt8]

    /// Reads the header at `offset`, or nil when it is cut off or malformed.
    func header(at offset: Int) -> Header? {
        guard let (id, idLength) = elementID(at: offset),
              let (size, sizeLength) = variableInteger(at: offset + idLength, keepMarker: false)
        else { return nil }
        let lengthBits = 7 * sizeLength
        let unknown = size == (UInt64(1) << UInt64(lengthBits)) - 1
        guard unknown || size <= UInt64(Int.max / 2) else { return nil }
        return Header(id: id, dataStart: offset + idLength + sizeLength, size: unknown ? nil : Int(size))
    }

    /// An element ID: 1–4 bytes, marker bit kept.
    func elementID(at offset: Int) -> (UInt32, Int)? {
        guard let (value, length) = variableInteger(at: offset, keepMarker: true), length <= 4 else { return nil }
        return (UInt32(value), length)
    }

    /// A variable-length integer: the count of leading zero bits of the first byte gives
    /// the length (1–8 bytes).
    func variableInteger(at offset: Int, keepMarker: Bool) -> (UInt64, Int)? {
        guard offset >= 0, offset < bytes.count, bytes[offset] != 0 else { return nil }
        let first = bytes[offset]
        let length = first.leadingZeroBitCount + 1
        guard offset + length <= bytes.count else { return nil }
        var value = UInt64(keepMarker ? first : first & (0xFF >> UInt8(length)))
        for i in 1..<length { value = value << 8 | UInt64(bytes[offset + i]) }
        return (value, length)
    }

    /// An unsigned integer element's value (big-endian, 0–8 bytes).
    func unsigned(_ range: Range<Int>) -> UInt64 {
        range.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[$1]) }
    }

    /// A signed integer element's value (big-endian two's complement, 0–8 bytes).
    func signed(_ range: Range<Int>) -> Int64 {
        guard !range.isEmpty else { return 0 }
        let raw = unsigned(range)
        let bits = 8 * min(range.count, 8)
        guard bits < 64 else { return Int64(bitPattern: raw) }
        let shift = UInt64(64 - bits)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }

    /// A string element's value (trailing NULs dropped).
    func string(_ range: Range<Int>) -> String {
        String(decoding: bytes[range].prefix { $0 != 0 }, as: UTF8.self)
    }
}
