import DuplexCore
import Synchronization

/// Maps a reply's audio back to its text: which segments (clauses) played, how many frames
/// of each, and so what the user heard and where a failover resumes.
///
/// ABI v1.1 workers announce each segment (its text and its range in the synthesis's input)
/// on the segment's first frame; the transcript uses those. For a v1.0 worker, which only
/// numbers segments, it segments the text itself exactly as the worker's ``TextSegmenter``
/// did (same pieces, same order) — the fallback, dropped as soon as a frame shows the
/// worker announces.
///
/// Offsets are Unicode scalars into `input`, the concatenation of all text of the reply.
struct ReplyTranscript: Sendable {
    /// A segment that started playing.
    struct PlayedSegment: Sendable, Equatable {
        /// Where its text lies in the reply's input.
        var range: Range<Int>
        /// Its text.
        var text: String
        /// Frames of it sent to the client (20 ms each).
        var frames: Int
    }

    /// Where a failover picks the reply up.
    struct ResumePoint: Sendable, Equatable {
        /// The input from the start of the segment that was playing.
        var text: String
        /// That segment's index in the reply (for `worker_changed.resume_segment`).
        var segment: Int
        /// Frames of it the user already heard (the next worker's first frames to skip).
        var heardFrames: Int
    }

    /// All text of the reply so far.
    private(set) var input = ""
    private var inputScalars = 0
    /// Segments that started playing, in order.
    private(set) var played: [PlayedSegment] = []
    /// Frames sent to the client (the sum of `played`'s frames, kept up to date).
    private(set) var framesSent = 0

    /// The current synthesis attempt: where its input starts in `input`, and the index (in
    /// `played`) its segment 0 takes.
    private var attemptStart = 0
    private var attemptBase = 0
    /// The attempt's last segment index seen on a frame.
    private var attemptLastIndex = -1
    /// Fallback for workers that do not announce segments: the attempt's input segmented as
    /// the worker does, and the segments so far. Nil once announcements were seen.
    private var fallback: TextSegmenter? = TextSegmenter()
    private var fallbackSegments: [TextSegmenter.Segment] = []

    /// Records text sent to the worker for this reply.
    mutating func appendInput(_ text: String, isFinal: Bool) {
        input += text
        inputScalars += text.unicodeScalars.count
        guard fallback != nil else { return }
        fallbackSegments += fallback!.appendSegments(text)
        if isFinal { fallbackSegments += fallback!.flushSegments() }
    }

    /// Records that the text ended (STOP, or the client gone) without a final piece: the
    /// worker flushes what it has.
    mutating func inputEnded() {
        guard fallback != nil else { return }
        fallbackSegments += fallback!.flushSegments()
    }

    /// Records one frame sent to the client, of the attempt's segment `index`;
    /// `announced` is the worker's `SegmentStart` (on a segment's first frame, v1.1).
    mutating func frameSent(segment index: Int, announced: TextSegmenter.Segment?) {
        if let announced {
            fallback = nil
            fallbackSegments = []
            if index != attemptLastIndex {
                let lower = min(inputScalars, attemptStart + announced.range.lowerBound)
                let upper = min(inputScalars, max(lower, attemptStart + announced.range.upperBound))
                startSegment(index, PlayedSegment(range: lower..<upper, text: announced.text, frames: 0))
            }
        } else if index != attemptLastIndex {
            if index < fallbackSegments.count {
                let local = fallbackSegments[index]
                startSegment(index, PlayedSegment(
                    range: (attemptStart + local.range.lowerBound)..<(attemptStart + local.range.upperBound), text: local.text, frames: 0))
            } else {
                // Not known (a worker segmenting differently): the rest of the input.
                let lower = played.last?.range.upperBound ?? attemptStart
                startSegment(index, PlayedSegment(range: min(lower, inputScalars)..<inputScalars, text: "", frames: 0))
            }
        }
        played[played.count - 1].frames += 1
        framesSent += 1
    }

    private mutating func startSegment(_ index: Int, _ segment: PlayedSegment) {
        attemptLastIndex = index
        played.append(segment)
    }

    /// Ends the current attempt (its worker failed): the segment that was playing is played
    /// again by the next attempt, which starts from its beginning.
    mutating func beginResume() -> ResumePoint {
        let current = played.popLast()
        let start = current?.range.lowerBound ?? (played.last?.range.upperBound ?? attemptStart)
        let heard = current?.frames ?? 0
        framesSent -= heard
        let point = ResumePoint(text: suffix(from: start), segment: played.count, heardFrames: heard)
        attemptStart = start
        attemptBase = played.count
        attemptLastIndex = -1
        if fallback != nil {
            fallback = TextSegmenter()
            fallbackSegments = []
        }
        return point
    }

    /// Records the resume text sent to the next worker as its first piece (fallback only).
    mutating func resumeSent(_ text: String) {
        guard fallback != nil else { return }
        fallbackSegments += fallback!.appendSegments(text)
    }

    /// The reply's index of the attempt's segment `index`.
    func replySegment(_ index: Int) -> Int { attemptBase + index }

    /// The text the user heard: the segments played before the current one, plus the share
    /// of the current one its frames cover (estimated from the speaking rate so far), cut at
    /// a word and marked with "…" when cut.
    var heardText: String {
        guard let current = played.last else { return "" }
        let complete = played.dropLast()
        var framesPerCharacter = 3.5  // ~14 characters a second
        let doneFrames = complete.reduce(0) { $0 + $1.frames }
        let doneCharacters = complete.reduce(0) { $0 + $1.text.count }
        if doneCharacters > 20 { framesPerCharacter = Double(doneFrames) / Double(doneCharacters) }
        var heard = complete.map(\.text).filter { !$0.isEmpty }.joined(separator: " ")
        let text = current.text.isEmpty ? suffix(from: current.range.lowerBound).trimmingWhitespace() : current.text
        let expected = Double(text.count) * framesPerCharacter
        let share = min(1, Double(current.frames) / max(1, expected))
        let words = text.split(separator: " ")
        let kept = Int((Double(words.count) * share).rounded(.down))
        if kept >= words.count {
            heard += (heard.isEmpty ? "" : " ") + text
        } else if kept > 0 {
            heard += (heard.isEmpty ? "" : " ") + words.prefix(kept).joined(separator: " ") + "…"
        } else if !heard.isEmpty {
            heard += "…"
        }
        return heard
    }

    private func suffix(from scalarOffset: Int) -> String {
        let scalars = input.unicodeScalars
        let start = scalars.index(scalars.startIndex, offsetBy: min(max(0, scalarOffset), inputScalars))
        return String(scalars[start...])
    }
}
