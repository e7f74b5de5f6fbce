import DuplexConfig
import DuplexCore
import Metrics
import Synchronization

/// What a session engine needs from the configuration.
public struct SessionConfiguration: Sendable {
    /// Client limits (`limits:`).
    public var limits: LimitsSection
    /// Turn-taking and barge-in (`conversation:`).
    public var conversation: ConversationSection
    /// A worker that sends nothing for this long mid-reply (while not paused) is treated as
    /// gone (`orchestrator.worker_timeout_ms`).
    public var workerStallTimeout: Duration
    /// Most workers one reply fails over to.
    public var maxFailovers: Int

    /// Creates the configuration.
    public init(
        limits: LimitsSection = LimitsSection(), conversation: ConversationSection = ConversationSection(),
        workerStallTimeout: Duration = .seconds(5), maxFailovers: Int = 3
    ) {
        self.limits = limits
        self.conversation = conversation
        self.workerStallTimeout = workerStallTimeout
        self.maxFailovers = maxFailovers
    }

    /// From the whole configuration.
    public init(_ configuration: DuplexConfiguration) {
        self.init(
            limits: configuration.limits, conversation: configuration.conversation,
            workerStallTimeout: .milliseconds(configuration.orchestrator.workerTimeoutMs))
    }
}

/// Live counters of one or more sessions, for tests and diagnostics: what is running and
/// what flowed. Every counter of running things returns to zero when the sessions end.
public final class SessionProbe: Sendable {
    private let tasks = Atomic<Int>(0)
    private let fromWorkers = Atomic<Int>(0)
    private let toClient = Atomic<Int>(0)
    private let controls = Atomic<Int>(0)

    /// Creates a probe.
    public init() {}

    /// Session tasks running now (lanes, model loads, generations, worker clean-ups).
    public var activeTasks: Int { tasks.load(ordering: .acquiring) }
    /// Frames received from workers.
    public var framesFromWorkers: Int { fromWorkers.load(ordering: .acquiring) }
    /// Frames written to the client.
    public var framesToClient: Int { toClient.load(ordering: .acquiring) }
    /// Control RPCs sent to workers.
    public var controlsSent: Int { controls.load(ordering: .acquiring) }

    func taskStarted() { tasks.add(1, ordering: .acquiringAndReleasing) }
    func taskEnded() { tasks.subtract(1, ordering: .acquiringAndReleasing) }
    func frameFromWorker() { fromWorkers.add(1, ordering: .relaxed) }
    func frameToClient() { toClient.add(1, ordering: .relaxed) }
    func controlSent() { controls.add(1, ordering: .relaxed) }

    /// Runs `body` counted as a session task.
    func tracking<T>(_ body: () async throws -> T) async rethrows -> T {
        taskStarted()
        defer { taskEnded() }
        return try await body()
    }
}

/// The session metrics (Prometheus through swift-metrics); labels never carry session ids.
struct SessionMetrics: Sendable {
    /// Frames sent to clients.
    let framesSent = Counter(label: "duplex_ws_frames_sent_total")
    /// Reply start → first frame sent.
    let firstAudio = Metrics.Timer(label: "duplex_ws_first_audio_seconds")
    /// End of user speech → first reply frame sent (includes the end-of-turn silence).
    let speechToSpeech = Metrics.Timer(label: "duplex_conversation_speech_to_speech_seconds")
    /// Whisper decode time per utterance.
    let asr = Metrics.Timer(label: "duplex_asr_seconds")
    /// Barge-in edge → last reply frame sent.
    let bargeIn = Metrics.Timer(label: "duplex_barge_in_seconds")
    /// Replies paused by a sound that turned out not to be an interruption.
    let falseInterruptions = Counter(label: "duplex_false_interruptions_total")
    /// Turns answered with the transcript made during the end-of-turn silence.
    let speculativeHits = Counter(label: "duplex_asr_speculative_hits_total")
    /// Replies moved to another worker mid-reply.
    let failovers = Counter(label: "duplex_failovers_total")
    /// Turns ended, by what ended them (`reason`: model, max_silence, fixed_silence, …).
    let endsOfTurn = Dictionary(uniqueKeysWithValues: EndOfTurnDecision.Reason.allCases.map {
        ($0, Counter(label: "duplex_end_of_turn_total", dimensions: [("reason", $0.rawValue)]))
    })
    /// Silence waited before a turn's end was decided.
    let endOfTurnSilence = Metrics.Timer(label: "duplex_end_of_turn_silence_seconds")

    /// Records how a turn ended.
    func record(_ decision: EndOfTurnDecision) {
        endsOfTurn[decision.reason]?.increment()
        endOfTurnSilence.recordMilliseconds(decision.silenceMs)
    }

    static let shared = SessionMetrics()
}

extension Metrics.Timer {
    func recordMilliseconds(_ milliseconds: Int) {
        recordNanoseconds(Int64(milliseconds) * 1_000_000)
    }

    func record(_ duration: Duration) {
        recordNanoseconds(Int64(duration.millisecondsDouble * 1_000_000))
    }
}
