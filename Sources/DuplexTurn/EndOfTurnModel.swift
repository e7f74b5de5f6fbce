import DuplexCore

/// Judges whether the user finished their turn from the sound of it.
///
/// ``SmartTurnModel`` is the real one; tests script one. Calls block (tens of milliseconds):
/// run them on a ``BlockingExecutor``, never on the event loop or a receive path.
public protocol EndOfTurnModel: Sendable {
    /// The probability (0–1) that the turn ended, from its audio so far (16 kHz, the turn's
    /// start to now, pauses included).
    /// - Throws: ``DuplexError`` (`internal` when inference fails).
    func completionProbability(of audio: [Float]) throws(DuplexError) -> Float
}
