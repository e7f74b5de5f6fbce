import DuplexCore
import Foundation

/// What a session's microphone input noticed. Times are milliseconds of input audio since
/// the stream began.
public enum SpeechEvent: Sendable, Equatable {
    /// The user started speaking.
    case speechStarted(atMs: Int)
    /// The user stopped speaking (the end of the speech, not of the trailing silence);
    /// `audio` is the utterance at 16 kHz, ready for ``SpeechListener/transcribe(_:)``.
    case speechEnded(atMs: Int, startMs: Int, audio: [Float])
    /// The barge-in detector (stricter threshold, shorter minimum speech) heard speech:
    /// reported at `atMs`, the input time it was detected, with the speech's onset.
    case bargeInEdge(atMs: Int, onsetMs: Int)
    /// The barge-in detector's speech ended (onset and end of the speech).
    case bargeInEdgeEnded(atMs: Int, onsetMs: Int)
    /// The user paused inside a turn (the barge-in detector heard the speech end, the turn
    /// VAD has not ended the turn yet): the turn's audio so far, for a speculative transcript.
    case speechPaused(atMs: Int, audio: [Float])
    /// The end-of-turn model answered at a pause (see ``EndOfTurnPolicy``).
    case turnProbed(TurnProbe)
    /// Why the turn ends: reported just before its ``speechEnded(atMs:startMs:audio:)``.
    case endOfTurn(EndOfTurnDecision)
    /// A live partial transcript of the turn so far (the user is still speaking).
    case partialTranscript(text: String, atMs: Int)
}

/// What speech recognition heard in an utterance.
public struct Transcript: Sendable, Equatable {
    /// The text (never empty).
    public var text: String
    /// How long recognition took.
    public var decodeMs: Int

    /// Creates a transcript.
    public init(text: String, decodeMs: Int) {
        self.text = text
        self.decodeMs = decodeMs
    }
}

/// One session's microphone: PCM in, speech events out, transcripts on request.
///
/// ``SpeechInput`` is the real one (Silero VAD and Whisper); tests script one.
public protocol SpeechListener: Sendable {
    /// Feeds a chunk of s16le mono PCM at the session's input rate.
    /// - Throws: ``DuplexError`` (`invalidAudio` for audio faster than real time).
    func accept(_ pcm: Data) async throws(DuplexError) -> [SpeechEvent]
    /// Milliseconds of input audio received so far.
    var positionMs: Int { get async }
    /// What was said in `audio` (16 kHz), or nil for nothing speakable.
    func transcribe(_ audio: [Float]) async throws(DuplexError) -> Transcript?
    /// A frame of reply audio as it leaves for the client (48 kHz s16le mono): the echo
    /// canceller's reference. Called on the playback path, so it must not block.
    func replyAudioSent(_ frame: Data)
    /// Manual turns: the input heard since the previous cut (or ``clearPending()``) at 16 kHz,
    /// and a new cut starts here. Empty when nothing was heard.
    func cut() async -> [Float]
    /// Manual turns: forgets the input heard since the previous cut.
    func clearPending() async
}

extension SpeechRecognition {
    /// Recognizers without partial transcripts ignore the request.
    public func makeListener(inputSampleRate: Int, partialTranscripts: Bool) throws(DuplexError) -> any SpeechListener {
        try makeListener(inputSampleRate: inputSampleRate)
    }
}

extension SpeechListener {
    /// Listeners without an echo canceller ignore the reply audio.
    public func replyAudioSent(_ frame: Data) {}
    /// Listeners that keep no audio have nothing to cut.
    public func cut() async -> [Float] { [] }
    /// Listeners that keep no audio have nothing to clear.
    public func clearPending() async {}
}

/// The speech models sessions share; makes each conversation session's listener.
public protocol SpeechRecognition: Sendable {
    /// A listener for a client sending audio at `inputSampleRate`.
    /// - Throws: ``DuplexError`` (`invalidMessage` for an unsupported rate).
    func makeListener(inputSampleRate: Int) throws(DuplexError) -> any SpeechListener
    /// A listener that also reports live partial transcripts when `partialTranscripts` is set.
    /// - Throws: ``DuplexError`` (`invalidMessage` for an unsupported rate).
    func makeListener(inputSampleRate: Int, partialTranscripts: Bool) throws(DuplexError) -> any SpeechListener
    /// The barge-in detector's end-of-speech silence in ms: speech over a reply is judged
    /// once this much silence could have followed it.
    var bargeInSettleMs: Int { get }
}
