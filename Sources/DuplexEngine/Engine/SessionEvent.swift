import DuplexCore
import Foundation
import Synchronization

/// What the engine tells the client, in order. A transport adapter encodes each event in
/// its own wire format (WebSocket v1: docs/WEBSOCKET_PROTOCOL.md).
public enum SessionEvent: Sendable {
    /// The session's settings took effect (at the start, and after every `start`).
    case sessionStarted(SessionDescription)
    /// A reply began playing (`tts_start`).
    case replyStarted(turnID: String)
    /// One 20 ms frame of 48 kHz s16le mono PCM of the playing reply; `sequence` counts the
    /// reply's frames from 1.
    case audio(turnID: String, pcm: Data, sequence: Int)
    /// A reply ended (`tts_end`): all of it played, it was stopped, or it failed.
    /// `lateFrames`: frames the worker sent after the listener's buffer ran dry.
    case replyEnded(turnID: String, frames: Int, reason: ReplyEndReason, lateFrames: Int)
    /// Something the client asked for failed; the session goes on.
    case error(DuplexError)
    /// The session was refused or ended by the server.
    case sessionEnded(sessionID: String, reason: String)
    /// A model switch progressed.
    case modelStatus(modelID: String, state: ModelLoadState, message: String?)
    /// The turn detector heard speech start or end (input ms since the stream began); a
    /// speech end carries why the turn ended.
    case voiceActivity(VoiceActivity, atMs: Int, endOfTurn: EndOfTurnDecision?)
    /// The end-of-turn model answered at a pause (complete or not).
    case turnProbe(TurnProbe)
    /// What the user said.
    case transcript(text: String, turnID: String, asrMs: Int)
    /// What the user has said so far in the turn in progress (live, not final).
    case partialTranscript(text: String)
    /// Reply text: non-final events carry the next piece, the final one the whole text.
    case replyText(text: String, isFinal: Bool, turnID: String)
    /// The user talked over the reply and it stopped; the history keeps what was heard.
    case bargeIn(BargeInReport)
    /// A reply paused by a short sound resumed where it paused.
    case bargeInResumed(turnID: String, pausedMs: Int)
    /// The session moved to another worker mid-reply; the reply goes on there from segment
    /// `resumeSegment`, with `modelID` (another voice when no live worker had the session's).
    case workerChanged(turnID: String, from: String, to: String, resumeSegment: Int, modelID: String)
    /// Per-turn figures once the reply's first frame is sent, with how the user's turn ended.
    case turnMetrics(turnID: String, speechToSpeechMs: Int, asrMs: Int, responderMs: Int, endOfTurn: EndOfTurnDecision?)
}

/// The session's settings as the client sees them.
public struct SessionDescription: Sendable, Equatable {
    /// The session id.
    public var sessionID: String
    /// The model bound on the worker ("" when no worker session is open).
    public var modelID: String
    /// `tts` or `conversation`.
    public var mode: SessionMode
    /// The worker serving the session ("" when none).
    public var worker: String
}

/// Why a reply ended.
public enum ReplyEndReason: String, Sendable, Equatable {
    case completed, stopped, error
}

/// Progress of a model switch.
public enum ModelLoadState: String, Sendable, Equatable {
    case loading, ready, failed
}

/// The turn detector's events.
public enum VoiceActivity: String, Sendable, Equatable {
    case speechStart = "speech_start"
    case speechEnd = "speech_end"
}

/// What a barge-in stopped.
public struct BargeInReport: Sendable, Equatable {
    /// The reply's turn.
    public var turnID: String
    /// Milliseconds of the reply sent before it stopped.
    public var heardMs: Int
    /// From the barge-in edge (speech detected over the reply) to the last frame sent.
    public var latencyMs: Int
    /// The part of the reply the user heard (kept in the history).
    public var heardText: String
    /// Whether the stop came from speech over the reply (false: a new turn replaced it).
    var fromEdge: Bool
}

/// Where a session's events go: a transport adapter's encoder and socket.
///
/// Writes come from the session's tasks (one at a time per task, several tasks at once);
/// an implementation applies back-pressure by suspending, and ignores write failures (the
/// end of the input sequence ends the session).
public protocol SessionOutput: Sendable {
    /// Delivers one event to the client.
    func write(_ event: SessionEvent) async
}
