import DuplexCore

/// One spoken reply (one `tts_start` … `tts_end` turn): the text pieces the client sent
/// for it and its playback gate.
final class Reply: Sendable {
    let turnID: String
    let gate = PlaybackGate()
    let pieces: AsyncStream<(text: String, isFinal: Bool)>
    private let continuation: AsyncStream<(text: String, isFinal: Bool)>.Continuation
    private let characters = Locked(0)
    let maxCharacters: Int
    /// Frames sent to the client so far (20 ms each).
    let framesSent = Locked(0)

    init(turnID: String, maxCharacters: Int) {
        self.turnID = turnID
        self.maxCharacters = maxCharacters
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
        continuation.yield((text, isFinal))
        if isFinal { continuation.finish() }
    }

    /// Ends the text input (STOP, or the client went away).
    func finishText() {
        continuation.finish()
    }
}
