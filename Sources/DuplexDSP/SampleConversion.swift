/// Conversions between float samples in [-1, 1] and signed 16-bit PCM.
public enum SampleConversion {
    /// Converts float samples to s16, scaling by `gain` and clipping at full scale.
    public static func int16(from samples: [Float], gain: Float = 1) -> [Int16] {
        var out = [Int16](repeating: 0, count: samples.count)
        out.withUnsafeMutableBufferPointer { dst in
            samples.withUnsafeBufferPointer { src in
                for i in 0..<src.count {
                    let v = (src[i] * gain * 32767).rounded()
                    dst[i] = Int16(max(-32768, min(32767, v)))
                }
            }
        }
        return out
    }

    /// Converts s16 samples to float in [-1, 1).
    public static func float(from samples: [Int16]) -> [Float] {
        samples.map { Float($0) / 32768 }
    }

    /// Converts s16 samples held as little-endian bytes to float.
    public static func float(fromLittleEndianBytes bytes: UnsafeRawBufferPointer) -> [Float] {
        let count = bytes.count / 2
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let lo = UInt16(bytes[2 * i])
            let hi = UInt16(bytes[2 * i + 1])
            out[i] = Float(Int16(bitPattern: lo | hi << 8)) / 32768
        }
        return out
    }
}
