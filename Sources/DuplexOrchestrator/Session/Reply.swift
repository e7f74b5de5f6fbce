import DuplexCore

/// One spoken reply (one `tts_start` … `tts_end` turn): the text pieces the client sent
/// for it, its playback gate, and what of it has been heard.
final class Reply: Sendable {
    let turnID: String
    let gate = PlaybackGate()
    let pieces: AsyncStream<(text: String, isFinal: Bool)>
    private let continuation: AsyncStream<(text: String, isFinal: Bool)>.Continuation
    private let characters = Locked(0)
    let maxCharacters: Int
    /// Frames sent to the client so far (20 ms each).
    let framesSent = Locked(0)
    /// When the last frame went to the client.
    let lastFrameAt = Locked<ContinuousClock.Instant?>(nil)
    /// Conversation mode: when the user's speech that this reply answers ended, and how long
    /// recognition and the responder's first text took (for `turn_metrics`).
    let origin: Origin?
    private let progress = Locked(Progress())

    /// Where a conversation reply came from.
    struct Origin: Sendable {
        var speechEndedAt: ContinuousClock.Instant
        var asrMs: Int
        var responderStartedAt: ContinuousClock.Instant
        var firstTextAt = Locked<ContinuousClock.Instant?>(nil)
    }

    /// The text split as the worker splits it (the same ``TextSegmenter``), and the frames
    /// sent per segment, so that the heard part of an interrupted reply is known.
    private struct Progress {
        var segmenter = TextSegmenter()
        var segments: [String] = []
        var framesPerSegment: [Int: Int] = [:]
        var lastSegment = -1
    }

    init(turnID: String, maxCharacters: Int, origin: Origin? = nil) {
        self.turnID = turnID
        self.maxCharacters = maxCharacters
        self.origin = origin
        (pieces, continuation) = AsyncStream.makeStream()
    }

    /// Adds text; throws `textTooLong` (and drops the piece) past the reply limit.
    func append(_ text: String, isFinal: Bool) throws(DuplexError) {
        let accepted = characters.withLock { count -> Bool in
            guard count + text.count <= maxCharacters else { return false }
            count += text.count
            return true
        }
        guard accepted else {
            throw DuplexError(.textTooLong, "This reply would exceed \(maxCharacters) characters (limits.max_reply_chars); the piece was dropped.")
        }
        if let origin, !text.isEmpty { origin.firstTextAt.withLock { if $0 == nil { $0 = .now } } }
        progress.withLock { p in
            p.segments += p.segmenter.append(text)
            if isFinal { p.segments += p.segmenter.flush() }
        }
        continuation.yield((text, isFinal))
        if isFinal { continuation.finish() }
    }

    /// Ends the text input (STOP, or the client went away).
    func finishText() {
        continuation.finish()
    }

    /// Records a frame sent to the client.
    func sent(frameOfSegment segment: Int, count: Int) {
        framesSent.withLock { $0 = count }
        lastFrameAt.withLock { $0 = .now }
        progress.withLock { p in
            p.framesPerSegment[segment, default: 0] += 1
            p.lastSegment = max(p.lastSegment, segment)
        }
    }

    /// What is left to say after a worker failure: the text from the segment (clause) that was
    /// playing, its index, and how many of its frames were already sent.
    var unplayed: (text: String, segment: Int, heardFrames: Int) {
        progress.withLock { p in
            let current = max(0, p.lastSegment)
            var rest = Array(p.segments.dropFirst(current))
            let pending = p.segmenter.pending.trimmingWhitespace()
            if !pending.isEmpty { rest.append(pending) }
            return (rest.joined(separator: " "), current, p.framesPerSegment[current] ?? 0)
        }
    }

    /// The text the user heard: the segments played before the current one, plus the share
    /// of the current one its frames cover (estimated from the speaking rate so far),
    /// cut at a word and marked with "…" when cut.
    var heardText: String {
        progress.withLock { p -> String in
            guard p.lastSegment >= 0 else { return "" }
            var segments = p.segments
            let pending = p.segmenter.pending.trimmingWhitespace()
            if !pending.isEmpty { segments.append(pending) }
            let complete = segments.prefix(min(p.lastSegment, segments.count))
            var framesPerCharacter = 3.5  // ~14 characters a second
            let doneFrames = (0..<complete.count).reduce(0) { $0 + (p.framesPerSegment[$1] ?? 0) }
            let doneCharacters = complete.reduce(0) { $0 + $1.count }
            if doneCharacters > 20 { framesPerCharacter = Double(doneFrames) / Double(doneCharacters) }
            var heard = complete.joined(separator: " ")
            guard p.lastSegment < segments.count else { return heard }
            let current = segments[p.lastSegment]
            let expected = Double(current.count) * framesPerCharacter
            let share = min(1, Double(p.framesPerSegment[p.lastSegment] ?? 0) / max(1, expected))
            let words = current.split(separator: " ")
            let kept = Int((Double(words.count) * share).rounded(.down))
            if kept >= words.count {
                heard += (heard.isEmpty ? "" : " ") + current
            } else if kept > 0 {
                heard += (heard.isEmpty ? "" : " ") + words.prefix(kept).joined(separator: " ") + "…"
            } else if !heard.isEmpty {
                heard += "…"
            }
            return heard
        }
    }
}
