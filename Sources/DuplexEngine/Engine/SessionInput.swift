import Foundation
import Synchronization

/// What a transport hands the engine: one event per client message.
///
/// A transport adapter (WebSocket v1, WebRTC, …) parses its own wire format into these;
/// the end of the input sequence means the client is gone.
public enum SessionInput: Sendable, Equatable {
    /// Session options (the first message, or later to change them).
    case start(SessionOptions)
    /// Text to speak; pieces accumulate into one reply until `isFinal`.
    case text(String, isFinal: Bool)
    /// PAUSE / RESUME / STOP of the playing reply.
    case control(PlaybackCommand)
    /// Microphone audio (s16le mono PCM at the session's input rate; conversation mode).
    case audio(Data)
    /// Manual turns: ends the user's turn now; the audio heard since the last commit (or
    /// clear) is transcribed as one utterance (answered when ``TurnTaking`` says so).
    case commitTurn
    /// Manual turns: drops the audio heard since the last commit.
    case clearTurn
    /// Asks for a reply: to `userText` as the user's new turn, or (nil) to the history as it
    /// is. The reply ends with a final `replyText` even when the responder said nothing.
    case respond(userText: String?)
    /// Adds a message to the conversation history without answering it.
    case addToHistory(HistoryMessage)
}

/// Who ends the user's turns (conversation mode).
public enum TurnTaking: Sendable, Equatable {
    /// The VAD (and the end-of-turn model) ends turns. `respond`: each turn is answered at
    /// once (otherwise only on ``SessionInput/respond(userText:)``); `interrupt`: speech over a
    /// reply pauses and stops it (barge-in).
    case automatic(respond: Bool, interrupt: Bool)
    /// The client ends turns (``SessionInput/commitTurn``) and asks for replies; the VAD's
    /// events are not reported and nothing is interrupted by speech.
    case manual

    /// The default: the VAD ends turns, each is answered, speech interrupts replies.
    public static let standard = TurnTaking.automatic(respond: true, interrupt: true)

    /// Whether a finished turn is answered without being asked.
    var respondsToTurns: Bool {
        if case .automatic(true, _) = self { return true }
        return false
    }

    /// Whether speech over a reply interrupts it.
    var interrupts: Bool {
        if case .automatic(_, true) = self { return true }
        return false
    }
}

/// Options a client sets with `start`. Nil fields leave the current value.
public struct SessionOptions: Sendable, Equatable {
    /// The model (voice) to speak with.
    public var modelID: String?
    /// `tts` or `conversation`.
    public var mode: SessionMode?
    /// The microphone's sample rate (conversation mode).
    public var inputSampleRate: Int?
    /// Live partial transcripts while the user speaks (conversation mode; off unless asked,
    /// so protocol v1 clients that take every `transcript` as final are unaffected).
    public var partialTranscripts: Bool?
    /// Voice options passed to the worker session (`speed`, `language`, …); merged into the
    /// current ones.
    public var voiceOptions: [String: String]
    /// Who ends the user's turns (conversation mode; ``TurnTaking/standard`` unless set).
    public var turnTaking: TurnTaking?
    /// Instructions for the responder (its system prompt, when it takes one); "" clears them.
    public var instructions: String?

    /// Creates options.
    public init(
        modelID: String? = nil, mode: SessionMode? = nil, inputSampleRate: Int? = nil, partialTranscripts: Bool? = nil,
        voiceOptions: [String: String] = [:], turnTaking: TurnTaking? = nil, instructions: String? = nil
    ) {
        self.modelID = modelID
        self.mode = mode
        self.inputSampleRate = inputSampleRate
        self.partialTranscripts = partialTranscripts
        self.voiceOptions = voiceOptions
        self.turnTaking = turnTaking
        self.instructions = instructions
    }
}

/// What a session does with its client.
public enum SessionMode: String, Sendable, Equatable {
    /// Text in, speech out.
    case tts
    /// Microphone in (VAD, ASR, responder), speech out, with barge-in.
    case conversation
}

/// Playback control commands.
public enum PlaybackCommand: String, Sendable, Equatable {
    case pause = "PAUSE", resume = "RESUME", stop = "STOP"
}
