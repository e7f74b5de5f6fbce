/// Trims near-silence (below −50 dBFS) at the edges of synthesized audio.
public enum SilenceTrim {
    /// Level under which a sample counts as silence.
    public static let threshold: Float = 0.003

    /// Removes trailing silence, keeping `keep` samples of it.
    public static func trimEnd(_ samples: inout [Float], keep: Int) {
        guard let last = samples.lastIndex(where: { abs($0) > threshold }) else { return }
        let end = min(samples.count, last + 1 + keep)
        if end < samples.count { samples.removeLast(samples.count - end) }
    }

    /// Removes leading silence, keeping `keep` samples of it.
    public static func trimStart(_ samples: inout [Float], keep: Int) {
        guard let first = samples.firstIndex(where: { abs($0) > threshold }) else { return }
        let start = max(0, first - keep)
        if start > 0 { samples.removeFirst(start) }
    }
}
