/// 16-bit PCM conversions that allocate nothing.
enum PCM16 {
    /// A float sample (nominal range -1...1) as 16-bit PCM, clipped at full scale.
    @inline(__always)
    static func sample(_ value: Float) -> Int16 {
        Int16(max(-32_768, min(32_767, (value * 32_768).rounded())))
    }

    /// A 16-bit PCM sample as a float.
    @inline(__always)
    static func float(_ value: Int16) -> Float {
        Float(value) * (1 / 32_768)
    }
}
