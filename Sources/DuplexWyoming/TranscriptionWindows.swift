/// Cuts audio longer than Whisper's 30 s window into windows it can decode one by one.
///
/// Each window is at most ``maxSeconds`` long; a cut falls at the quietest 50 ms of the last
/// ``searchSeconds`` before the limit, so it rarely splits a word.
enum TranscriptionWindows {
    /// The longest window (Whisper sees 30 s at once; a little margin for its padding).
    static let maxSeconds = 28.0
    /// How far before the limit a quieter cut is looked for.
    static let searchSeconds = 3.0

    /// The windows' sample ranges of `samples` at `rate` Hz, in order, covering all of it.
    static func ranges(of samples: [Float], rate: Int = 16_000) -> [Range<Int>] {
        let limit = Int(maxSeconds * Double(rate))
        let search = Int(searchSeconds * Double(rate))
        let step = rate / 20  // 50 ms
        var ranges: [Range<Int>] = []
        var start = 0
        while samples.count - start > limit {
            var cut = start + limit
            var quietest = Float.infinity
            var position = start + limit - search
            while position + step <= start + limit {
                var energy: Float = 0
                for index in position..<(position + step) { energy += samples[index] * samples[index] }
                if energy < quietest {
                    quietest = energy
                    cut = position + step / 2
                }
                position += step
            }
            ranges.append(start..<cut)
            start = cut
        }
        if start < samples.count || ranges.isEmpty { ranges.append(start..<samples.count) }
        return ranges
    }
}
