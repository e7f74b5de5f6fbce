import Foundation
import Synchronization

/// What a transport hands the engine: one event per client message.
///
/// A transport adapter (WebSocket v1, WebRTC, …) parses its own wire format into these;
/// the end of the input sequence means the client is gone.
public enum SessionInput: Sendable {
    /// Session options (the first message, or later to change them).
    case start(SessionOptions)
    /// Text to speak; pieces accumulate into one reply until `isFinal`.
    case text(String, isFinal: Bool)
    /// PAUSE / RESUME / STOP of the playing reply.
    case control(PlaybackCommand)
    /// Microphone audio (s16le mono PCM at the session's input rate; conversation mode).
    case audio(Data)
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

    /// Creates options.
    public init(
        modelID: String? = nil, mode: SessionMode? = nil, inputSampleRate: Int? = nil, partialTranscripts: Bool? = nil,
        voiceOptions: [String: String] = [:]
    ) {
        self.modelID = modelID
        self.mode = mode
        self.inputSampleRate = inputSampleRate
        self.partialTranscripts = partialTranscripts
        self.voiceOptions = voiceOptions
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
