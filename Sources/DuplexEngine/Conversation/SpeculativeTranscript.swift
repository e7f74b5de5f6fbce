import DuplexCore
import Synchronization

/// A transcript made while the user pauses (before the turn VAD ends the turn). If the turn
/// does end at this pause, the utterance takes it instead of waiting for Whisper again.
final class SpeculativeTranscript: Sendable {
    /// How the speculative decode went.
    enum Outcome: Sendable {
        /// Decoded: the transcript, or nil for nothing speakable.
        case heard(Transcript?)
        /// Skipped (stale before it started) or failed.
        case unavailable
    }

    /// The pause's input time.
    let atMs: Int
    /// Delivered by the turn lane.
    let outcome = AsyncPromise<Outcome>()
    private let claimedFlag = Atomic<Bool>(false)

    init(atMs: Int) {
        self.atMs = atMs
    }

    /// An utterance ending at this pause will use it (so it must run even if newer speech
    /// made it stale for anything else).
    func claim() { claimedFlag.store(true, ordering: .releasing) }

    /// Whether an utterance claimed it.
    var isClaimed: Bool { claimedFlag.load(ordering: .acquiring) }
}

/// Work for the turn lane (transcriptions, in order).
enum TranscriptionJob: Sendable {
    /// Transcribe the turn so far during a pause.
    case speculative(SpeculativeTranscript, audio: [Float], listener: any SpeechListener)
    /// Transcribe a finished utterance and answer it.
    case utterance(Utterance)
    /// The client asked for a reply (to its text, or to the history as it is), in order after
    /// the utterances before it.
    case respond(userText: String?)
}

/// A finished utterance.
struct Utterance: Sendable {
    /// Its audio (16 kHz).
    var audio: [Float]
    /// When the speech ended (session clock).
    var speechEndedAt: Duration
    /// A speculative transcript of this very pause, if one was started.
    var speculative: SpeculativeTranscript?
    /// How the turn ended.
    var endOfTurn: EndOfTurnDecision?
    /// The listener that heard it.
    var listener: any SpeechListener
}

/// A reply for the responder to generate.
struct GenerationRequest: Sendable {
    /// The reply the text goes into.
    var reply: Reply
    /// What the user said (nil: the history already ends with it).
    var userText: String?
    /// The client asked for this reply: it ends with a final `replyText` even when empty.
    var requested = false
    /// Fired to cut it short.
    var cancel: AsyncSignal
    /// Fired when it ended (its history is recorded).
    var done = AsyncSignal()
}
