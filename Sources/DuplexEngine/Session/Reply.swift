import DuplexCore
import Synchronization

/// One spoken reply (one `tts_start` … `tts_end` turn): the text pieces for it, its playback
/// gate, why it stopped, and what of it has been heard.
///
/// Shared by the task that feeds its text (the receive path or the responder) and the task
/// that plays it; its own lock guards only its own data and is never held across an `await`
/// or while taking the session's lock.
final class Reply: Sendable {
    /// The turn id (`<session>-t<n>`).
    let turnID: String
    /// Holds frames while paused; stopped for good by ``stop(_:)``.
    let gate = PlaybackGate()
    /// The text pieces, in order, for the player.
    let pieces: AsyncStream<TextPiece>
    private let continuation: AsyncStream<TextPiece>.Continuation
    let maxCharacters: Int
    /// Conversation mode: where the reply came from (for `turn_metrics`).
    let origin: Origin?
    /// Fired once `barge_in` for this reply was written (its `tts_end` waits for it).
    let bargeInAnnounced = AsyncSignal()
    private let state = Mutex(State())

    /// A piece of the reply's text.
    struct TextPiece: Sendable {
        var text: String
        var isFinal: Bool
    }

    /// Why a reply stopped.
    enum StopReason: Sendable, Equatable {
        /// The client's STOP.
        case client
        /// The user talked over it (or a new turn replaced it while it played).
        case bargeIn(BargeInReport)
        /// A newer turn replaced it before it played.
        case superseded
    }

    /// Where a conversation reply came from. Times are session-clock offsets.
    struct Origin: Sendable {
        /// When the user's speech that this reply answers ended.
        var speechEndedAt: Duration
        /// Whisper's decode time.
        var asrMs: Int
        /// When the responder was asked.
        var responderStartedAt: Duration
        /// How the user's turn ended.
        var endOfTurn: EndOfTurnDecision?
    }

    private struct State {
        var characters = 0
        var transcript = ReplyTranscript()
        var stopReason: StopReason?
        var lastFrameAt: Duration?
        var firstTextAt: Duration?
        var heardWhenInterrupted: String?
        var synthesis: SynthesisTarget?
        var lateFrames = 0
    }

    /// Frames the workers reported as late (ABI v1.1 `AudioFrame.late_frames`), over every
    /// worker that played part of the reply.
    var lateFrames: Int { state.withLock { $0.lateFrames } }

    /// Adds a worker's late-frame count from its end marker.
    func addLateFrames(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.lateFrames += count }
    }

    init(turnID: String, maxCharacters: Int, origin: Origin? = nil) {
        self.turnID = turnID
        self.maxCharacters = maxCharacters
        self.origin = origin
        (pieces, continuation) = AsyncStream.makeStream()
    }

    /// Adds text; throws `textTooLong` (and drops the piece) past the reply limit.
    func append(_ text: String, isFinal: Bool, at now: Duration) throws(DuplexError) {
        let accepted = state.withLock { s -> Bool in
            guard s.characters + text.count <= maxCharacters else { return false }
            s.characters += text.count
            if !text.isEmpty, s.firstTextAt == nil { s.firstTextAt = now }
            return true
        }
        guard accepted else {
            throw DuplexError(.textTooLong, "This reply would exceed \(maxCharacters) characters (limits.max_reply_chars); the piece was dropped.")
        }
        continuation.yield(TextPiece(text: text, isFinal: isFinal))
        if isFinal { continuation.finish() }
    }

    /// Ends the text input (STOP, the responder ended or failed, or the client went away).
    func finishText() {
        continuation.finish()
    }

    /// Stops the reply for good (the first reason wins). Returns false if it was already stopped.
    @discardableResult
    func stop(_ reason: StopReason) -> Bool {
        let first = state.withLock { s -> Bool in
            guard s.stopReason == nil else { return false }
            s.stopReason = reason
            return true
        }
        gate.stop()
        finishText()
        return first
    }

    /// Why it stopped, if it did.
    var stopReason: StopReason? { state.withLock { $0.stopReason } }

    /// When its first text arrived.
    var firstTextAt: Duration? { state.withLock { $0.firstTextAt } }

    /// Records what the user heard when the reply was interrupted while its text was still
    /// being generated (the history keeps this instead of the full text).
    func markHeardWhenInterrupted(_ heard: String) {
        state.withLock { if $0.heardWhenInterrupted == nil { $0.heardWhenInterrupted = heard } }
    }

    /// What the user heard when it was interrupted while generating, if it was.
    var heardWhenInterrupted: String? { state.withLock { $0.heardWhenInterrupted } }

    /// The synthesis playing the reply now (set by the player for each attempt).
    var synthesis: SynthesisTarget? {
        get { state.withLock { $0.synthesis } }
        set { state.withLock { $0.synthesis = newValue } }
    }

    // MARK: Progress

    /// Records text sent to a worker (the transcript maps audio back to it).
    func textSent(_ piece: TextPiece) {
        state.withLock { $0.transcript.appendInput(piece.text, isFinal: piece.isFinal) }
    }

    /// Records that the worker was told to flush without a final piece.
    func textEnded() {
        state.withLock { $0.transcript.inputEnded() }
    }

    /// Records one frame sent to the client; returns the reply's frame count.
    func frameSent(segment: Int, announced: TextSegmenter.Segment?, at now: Duration) -> Int {
        state.withLock { s in
            s.transcript.frameSent(segment: segment, announced: announced)
            s.lastFrameAt = now
            return s.transcript.framesSent
        }
    }

    /// Frames sent to the client so far.
    var framesSent: Int { state.withLock { $0.transcript.framesSent } }

    /// When the last frame went to the client.
    var lastFrameAt: Duration? { state.withLock { $0.lastFrameAt } }

    /// The text the user heard so far.
    var heardText: String { state.withLock { $0.transcript.heardText } }

    /// Ends the current synthesis attempt (its worker failed) and returns where the next one
    /// picks up.
    func beginResume() -> ReplyTranscript.ResumePoint {
        state.withLock { $0.transcript.beginResume() }
    }

    /// Records the resume text sent to the next worker.
    func resumeSent(_ text: String) {
        state.withLock { $0.transcript.resumeSent(text) }
    }

    /// The reply's segment index of the current attempt's segment `index`.
    func replySegment(_ index: Int) -> Int {
        state.withLock { $0.transcript.replySegment(index) }
    }

    /// The report of a barge-in at `now`: what was heard, and the latency from the barge-in
    /// edge (`edgeAt`) to the last frame sent.
    func bargeInReport(edgeAt: Duration?) -> BargeInReport {
        state.withLock { s in
            var latencyMs = 0
            if let edgeAt, let last = s.lastFrameAt {
                latencyMs = max(0, Int((last - edgeAt).millisecondsDouble.rounded()))
            }
            return BargeInReport(
                turnID: turnID, heardMs: s.transcript.framesSent * OutputFormat.frameMilliseconds, latencyMs: latencyMs,
                heardText: s.transcript.heardText, fromEdge: edgeAt != nil)
        }
    }
}
