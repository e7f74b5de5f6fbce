/// Splits streaming text (for example LLM tokens) into speakable segments.
///
/// A segment is emitted as soon as it is complete: at a sentence end followed by
/// whitespace, at a line break, or — for the first segment of a reply, to get the first
/// audio out fast — at a comma or after a few words. Long sentences are split at a comma
/// or a space so no segment grows without bound; the segments after the first may grow
/// step by step (5, 10, 20 words by default), so each one is synthesized while the previous
/// one plays even when many replies start at once. ``flush()`` returns whatever is left.
///
/// ```swift
/// var segmenter = TextSegmenter()
/// segmenter.append("Hello there. How ")   // ["Hello there."]
/// segmenter.append("are you?")            // []
/// segmenter.flush()                       // ["How are you?"]
/// ```
public struct TextSegmenter: Sendable {
    /// Tuning knobs for where segments end.
    public struct Policy: Sendable, Hashable {
        /// The first segment may end at a comma once it has at least this many words.
        public var firstSegmentMinWordsAtComma: Int
        /// The first segment is cut after this many words if no punctuation came yet…
        public var firstSegmentWords: Int
        /// …once this many complete words are buffered without a comma or sentence end
        /// (punctuation within them is the better place to cut).
        public var firstSegmentLookaheadWords: Int
        /// Later segments longer than this many words are split at a comma or a space.
        public var maxWords: Int
        /// The word limits of the second, third, … segment (then ``maxWords``): a segment
        /// whose audio is short cannot cover the synthesis of a long next one.
        public var growingSegmentWords: [Int]
        /// No segment is longer than this many characters.
        public var maxCharacters: Int

        /// Defaults tuned for Piper-style voices.
        public init(
            firstSegmentMinWordsAtComma: Int = 2, firstSegmentWords: Int = 3,
            firstSegmentLookaheadWords: Int = 5, maxWords: Int = 30, growingSegmentWords: [Int] = [5, 10, 20],
            maxCharacters: Int = 300
        ) {
            self.firstSegmentMinWordsAtComma = firstSegmentMinWordsAtComma
            self.firstSegmentWords = firstSegmentWords
            self.firstSegmentLookaheadWords = firstSegmentLookaheadWords
            self.maxWords = maxWords
            self.growingSegmentWords = growingSegmentWords
            self.maxCharacters = maxCharacters
        }
    }

    /// A segment with where it lies in the input.
    public struct Segment: Sendable, Hashable {
        /// The segment's text, whitespace trimmed.
        public var text: String
        /// Where the text lies in everything appended so far, in Unicode scalar values (code
        /// points, the unit of the worker ABI's `SegmentStart` offsets).
        public var range: Range<Int>

        /// Creates a segment.
        public init(text: String, range: Range<Int>) {
            self.text = text
            self.range = range
        }
    }

    /// The policy in force.
    public let policy: Policy
    private var buffer: [Character] = []
    /// Unicode scalars of the input before `buffer`.
    private var consumedScalars = 0
    /// Number of segments emitted so far.
    public private(set) var emittedCount = 0

    /// Creates a segmenter.
    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Text that was appended but not yet emitted.
    public var pending: String { String(buffer) }

    /// Appends text and returns the segments it completed.
    public mutating func append(_ text: String) -> [String] {
        appendSegments(text).map(\.text)
    }

    /// Returns the remaining text as a final segment (if it has any speakable content).
    public mutating func flush() -> [String] {
        flushSegments().map(\.text)
    }

    /// Appends text and returns the segments it completed, with their input ranges.
    public mutating func appendSegments(_ text: String) -> [Segment] {
        buffer.append(contentsOf: text)
        var out: [Segment] = []
        while let cut = nextCut() {
            emit(upTo: cut, into: &out)
        }
        return out
    }

    /// Returns the remaining text as a final segment, with its input range.
    public mutating func flushSegments() -> [Segment] {
        var out: [Segment] = []
        while let cut = nextCut() {
            emit(upTo: cut, into: &out)
        }
        emit(upTo: buffer.count, into: &out)
        return out
    }

    private mutating func emit(upTo cut: Int, into out: inout [Segment]) {
        let piece = buffer[..<cut]
        let leading = piece.prefix { $0.isWhitespace }
        let trailing = piece.dropFirst(leading.count).reversed().prefix { $0.isWhitespace }
        let total = piece.reduce(0) { $0 + $1.unicodeScalars.count }
        let start = consumedScalars + leading.reduce(0) { $0 + $1.unicodeScalars.count }
        let end = consumedScalars + total - trailing.reduce(0) { $0 + $1.unicodeScalars.count }
        let segment = String(piece).trimmingWhitespace()
        buffer.removeFirst(cut)
        consumedScalars += total
        if segment.contains(where: { $0.isLetter || $0.isNumber }) {
            out.append(Segment(text: segment, range: start..<max(start, end)))
            emittedCount += 1
        } else if !segment.isEmpty, !out.isEmpty {
            // Trailing punctuation only: attach it to the previous segment.
            out[out.count - 1].text += segment
            out[out.count - 1].range = out[out.count - 1].range.lowerBound..<max(out[out.count - 1].range.upperBound, end)
        }
    }

    /// Returns the index just past the end of the next complete segment, if any.
    private func nextCut() -> Int? {
        let isFirst = emittedCount == 0
        let wordLimit = isFirst || emittedCount > policy.growingSegmentWords.count
            ? policy.maxWords : min(policy.maxWords, policy.growingSegmentWords[emittedCount - 1])
        var words = 0
        var inWord = false
        var lastComma: Int? = nil
        var lastSpace: Int? = nil
        var firstCut: Int? = nil
        var cutAtMaxWords: Int? = nil
        var index = 0
        let count = buffer.count
        while index < count {
            let c = buffer[index]
            if c.isWhitespace {
                if inWord {
                    words += 1
                    inWord = false
                    lastSpace = index
                    if isFirst, words == policy.firstSegmentWords { firstCut = index }
                    if isFirst, words >= policy.firstSegmentLookaheadWords, let firstCut { return firstCut }
                    // At the limit the cut is known (the last comma, or here): take it now, even
                    // if the sentence ends further on in text already buffered.
                    if !isFirst, words == wordLimit { return lastComma ?? index }
                    if isFirst, words == wordLimit { cutAtMaxWords = lastComma ?? index }
                }
                if c.isNewline, words > 0 { return index + 1 }
            } else {
                inWord = true
                if let end = sentenceEnd(at: index) { return end }
                if Self.clauseMarks.contains(c), index + 1 < count, buffer[index + 1].isWhitespace {
                    lastComma = index + 1
                    if isFirst, words + 1 >= policy.firstSegmentMinWordsAtComma { return index + 1 }
                }
            }
            if index + 1 >= policy.maxCharacters {
                return lastComma ?? lastSpace ?? index + 1
            }
            index += 1
        }
        if isFirst, let firstCut, words >= policy.firstSegmentLookaheadWords {
            return firstCut
        }
        if let cutAtMaxWords { return cutAtMaxWords }
        return nil
    }

    /// If a sentence ends at `index` (and whitespace follows), the cut position after it.
    private func sentenceEnd(at index: Int) -> Int? {
        let c = buffer[index]
        guard Self.sentenceMarks.contains(c) else { return nil }
        var end = index + 1
        while end < buffer.count, Self.closers.contains(buffer[end]) { end += 1 }
        guard end < buffer.count else { return nil }
        if Self.isFullWidthStop(c) { return end }
        guard buffer[end].isWhitespace else { return nil }
        if c == ".", isAbbreviation(endingAt: index) { return nil }
        return end
    }

    private func isAbbreviation(endingAt dot: Int) -> Bool {
        var start = dot
        while start > 0, !buffer[start - 1].isWhitespace { start -= 1 }
        let word = String(buffer[start..<dot]).lowercased()
        if word.count == 1, word.first?.isLetter == true { return true }  // initials: "J. Smith"
        return Self.abbreviations.contains(word)
    }

    private static func isFullWidthStop(_ c: Character) -> Bool { c == "。" || c == "！" || c == "？" }
    private static let sentenceMarks: Set<Character> = [".", "!", "?", "…", ";", "。", "！", "？"]
    private static let clauseMarks: Set<Character> = [",", ":", "—", "–", "、", "，"]
    private static let closers: Set<Character> = ["\"", "'", "”", "’", ")", "]", "»"]
    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no",
        "approx", "dept", "est", "fig", "inc", "ltd", "co", "mt", "ave", "u.s", "a.m", "p.m",
    ]
}

extension String {
    /// The string without leading and trailing whitespace and newlines.
    package func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
