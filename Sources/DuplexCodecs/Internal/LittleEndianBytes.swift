extension Array where Element == UInt8 {
    /// Appends `value` as 2 little-endian bytes.
    mutating func appendLittleEndian(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value))
        append(UInt8(truncatingIfNeeded: value >> 8))
    }

    /// Appends `value` as 4 little-endian bytes.
    mutating func appendLittleEndian(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    /// Appends an ASCII tag such as `RIFF`.
    mutating func appendASCII(_ tag: StaticString) {
        tag.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// Appends s16 samples as little-endian bytes.
    mutating func appendLittleEndian(samples: UnsafeBufferPointer<Int16>) {
        #if _endian(little)
        append(contentsOf: UnsafeRawBufferPointer(samples))
        #else
        for sample in samples { appendLittleEndian(UInt16(bitPattern: sample)) }
        #endif
    }
}
