import DuplexCore
import Synchronization

/// The worker session behind a client session.
///
/// `unbound → opening → bound`, and `bound → failingOver → bound` when the worker dies
/// mid-reply; `opening` and `failingOver` hold the reservation being opened, so a worker
/// is never counted twice or lost. Only the binding lane changes it.
enum BindingState: Sendable {
    /// No worker session (not opened yet, or the last open failed).
    case unbound
    /// A worker was picked and its session is being opened.
    case opening(WorkerReservation)
    /// A worker session is open with `modelID`.
    case bound(WorkerBinding)
    /// The bound worker failed mid-reply; the session is moving to `to`.
    case failingOver(from: WorkerBinding, to: WorkerReservation)

    /// The open binding, if any.
    var bound: WorkerBinding? {
        if case .bound(let binding) = self { return binding }
        return nil
    }

    /// The reservation held in any state (released at teardown).
    var reservation: WorkerReservation? {
        switch self {
        case .unbound: nil
        case .opening(let reservation): reservation
        case .bound(let binding): binding.reservation
        case .failingOver(_, let to): to
        }
    }
}

/// An open worker session.
struct WorkerBinding: Sendable {
    /// The worker and its count in the pool.
    var reservation: WorkerReservation
    /// The model the worker bound.
    var modelID: String

    var worker: WorkerConnection { reservation.worker }
}

/// Playback of the session's current reply (the one the player is on). Replies waiting
/// in the queue are not here: they have not started.
///
/// Each case carries exactly what is valid in it: a reply paused by user speech carries the
/// interruption that paused it, one awaiting a transcript the interruption it must settle.
enum PlaybackState: Sendable {
    /// No reply is playing.
    case idle
    /// Frames flow to the client.
    case playing(Reply)
    /// Frames are held (the worker is paused too).
    case paused(Reply, by: PauseCause)
    /// Paused by user speech short enough to be a backchannel ("okay"): the turn's
    /// transcript decides whether it resumes or stops.
    case awaitingTranscript(Reply, Interruption)

    /// The reply being played, paused or held, if any.
    var reply: Reply? {
        switch self {
        case .idle: nil
        case .playing(let reply), .paused(let reply, _), .awaitingTranscript(let reply, _): reply
        }
    }
}

/// Who paused the reply.
enum PauseCause: Sendable {
    /// The client's PAUSE; only its RESUME continues.
    case client
    /// The user started talking over the reply.
    case userSpeech(Interruption)
}

/// Speech over a playing reply, not yet known to be an interruption.
struct Interruption: Sendable, Equatable {
    /// The speech's onset (input ms).
    var onsetMs: Int
    /// When the barge-in edge was detected (session clock).
    var detectedAt: Duration
}

/// The barge-in detector (the stricter VAD that hears speech over a reply).
enum EdgeState: Sendable, Equatable {
    /// It hears no speech.
    case quiet
    /// It hears speech since `onsetMs`.
    case speaking(onsetMs: Int)
}

/// Whose turn it is (conversation mode).
enum TurnState: Sendable, Equatable {
    /// Nobody speaks and nothing is being answered.
    case listening
    /// The user speaks (the turn VAD heard speech start); `over` is the turn being answered
    /// meanwhile, if any.
    case userSpeaking(sinceMs: Int, over: String?)
    /// The user's speech ended; its transcript is being made.
    case transcribing(endMs: Int, over: String?)
    /// The transcript was accepted: the turn's reply is generated and played.
    case responding(turnID: String)

    /// The turn being answered, if any.
    var answering: String? {
        switch self {
        case .listening: nil
        case .userSpeaking(_, let over), .transcribing(_, let over): over
        case .responding(let turnID): turnID
        }
    }
}

/// The responder streaming a reply's text.
struct Generation: Sendable {
    /// The reply it feeds.
    let reply: Reply
    /// Fired to cut it short (a newer turn, STOP, barge-in).
    let cancel: AsyncSignal
    /// What the user heard of the reply when it was interrupted while still generating (the
    /// history keeps this instead of the full text).
    var heardWhenInterrupted: String?
}

/// The session's lifecycle.
enum Lifecycle: Sendable, Equatable {
    /// Serving the client.
    case open
    /// The client is gone: nothing new starts.
    case closed
}
