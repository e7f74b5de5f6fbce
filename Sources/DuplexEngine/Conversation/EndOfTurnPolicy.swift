import DuplexCore

/// How a user's turn ended.
public struct EndOfTurnDecision: Sendable, Equatable {
    /// What ended it.
    public enum Reason: String, Sendable, Equatable, CaseIterable {
        /// The end-of-turn model said the turn sounds complete.
        case model
        /// `turn.max_silence_ms` of silence passed while the model said incomplete.
        case maxSilence = "max_silence"
        /// The VAD's fixed silence (`turn.model: none`).
        case fixedSilence = "fixed_silence"
        /// The model failed at this pause; the fixed silence ended the turn.
        case modelFailed = "model_failed"
        /// The microphone stream ended mid-turn.
        case streamEnded = "stream_ended"
    }

    /// What ended it.
    public var reason: Reason
    /// The model's probability at the decision (nil without a model answer).
    public var probability: Float?
    /// Silence waited: from the end of the speech to the decision (input ms).
    public var silenceMs: Int

    /// Creates a decision.
    public init(reason: Reason, probability: Float?, silenceMs: Int) {
        self.reason = reason
        self.probability = probability
        self.silenceMs = silenceMs
    }
}

/// One answer of the end-of-turn model at a pause.
public struct TurnProbe: Sendable, Equatable {
    /// When the answer was taken into account (input ms).
    public var atMs: Int
    /// Silence at that moment (ms since the speech ended).
    public var silenceMs: Int
    /// The probability that the turn is complete.
    public var probability: Float
    /// Whether it ended the turn (probability ≥ `turn.threshold`).
    public var complete: Bool

    /// Creates a probe result.
    public init(atMs: Int, silenceMs: Int, probability: Float, complete: Bool) {
        self.atMs = atMs
        self.silenceMs = silenceMs
        self.probability = probability
        self.complete = complete
    }
}

/// When a user's turn ends: the pure decision logic behind ``SpeechInput``.
///
/// Inputs are the turn VAD's segment edges, the input's loudness (``PauseDetector``: Silero
/// reports a segment's end only ~200 ms after the speech's energy ends, too late to ask the
/// model at `turn.probe_ms`), the model's answers, and the input clock. A pause is the input
/// staying quiet for `probe_ms`, or (in noise that never gets quiet) the VAD closing its
/// segment. With a model, each pause asks it (``Action/probe(id:turnStartMs:)``); a
/// complete answer ends the turn at once, an incomplete one keeps the turn open across the
/// pause until a later pause is judged complete or `maxSilenceMs` pass. A failed model
/// call falls back to the fixed silence for that pause. Without a model every segment end
/// is the turn's end (today's fixed silence).
///
/// All times are input milliseconds (the position in the microphone stream), so tests drive
/// it without any clock.
struct EndOfTurnPolicy: Sendable {
    /// The decision rule.
    enum Mode: Sendable, Equatable {
        /// Every segment end ends the turn.
        case fixedSilence
        /// Ask the model at each pause of `probeMs`, and again every `reprobeMs` of a pause it
        /// called incomplete (a complete turn it misjudged then ends before `maxSilenceMs`).
        case model(probeMs: Int, threshold: Float, maxSilenceMs: Int, fallbackSilenceMs: Int, reprobeMs: Int = 1000)
    }

    /// Where the turn is.
    enum State: Sendable, Equatable {
        /// No turn in progress.
        case idle
        /// The user speaks; the turn began at `turnStartMs`.
        case speaking(turnStartMs: Int)
        /// The user paused (speech ended at `speechEndMs`); `probe` is what the model said.
        case paused(turnStartMs: Int, speechEndMs: Int, probe: ProbeState)
    }

    /// The model's answer for the current pause.
    enum ProbeState: Sendable, Equatable {
        /// Asked (call `id`), no answer yet.
        case running(id: Int)
        /// It said incomplete, with this probability.
        case incomplete(Float)
        /// The call failed: the fixed silence decides this pause.
        case failed
    }

    /// What to do.
    enum Action: Sendable, Equatable {
        /// A turn began (report `speech_start`).
        case turnStarted(atMs: Int)
        /// Ask the model about the turn from `turnStartMs` to now; answer with `id`.
        case probe(id: Int, turnStartMs: Int)
        /// The model answered (report it).
        case probed(TurnProbe)
        /// The turn ended: its speech spans `startMs…endMs`.
        case turnEnded(startMs: Int, endMs: Int, EndOfTurnDecision)
    }

    let mode: Mode
    private(set) var state = State.idle
    private var probes = 0
    /// Model calls made in the current pause.
    private var asksInPause = 0
    /// Where the input got loud again, with no turn in progress, inside a VAD segment.
    private var resumedInSegmentMs: Int?
    /// Speech resumed inside a closing segment must last this long to be a turn.
    static let minResumedSpeechMs = 250

    init(mode: Mode) {
        self.mode = mode
    }

    /// The current turn's start, while one is in progress.
    var turnStartMs: Int? {
        switch state {
        case .idle: nil
        case .speaking(let start), .paused(let start, _, _): start
        }
    }

    /// The turn VAD heard speech start at `atMs`.
    mutating func speechStarted(atMs: Int) -> [Action] {
        switch state {
        case .idle:
            resumedInSegmentMs = nil
            state = .speaking(turnStartMs: atMs)
            return [.turnStarted(atMs: atMs)]
        case .speaking:
            return []
        case .paused(let start, _, _):
            // The user goes on after a pause the model judged incomplete (or before it
            // answered: that answer is now stale).
            state = .speaking(turnStartMs: start)
            return []
        }
    }

    /// The turn VAD closed a segment: speech ended at `endMs`, reported at `nowMs`.
    mutating func speechEnded(atMs endMs: Int, nowMs: Int) -> [Action] {
        if case .idle = state, case .model = mode {
            // The segment of a turn the model already ended closes. If the user spoke again
            // inside it (at least `minResumedSpeechMs` of it), that was a new turn: judge it.
            defer { resumedInSegmentMs = nil }
            guard let resumed = resumedInSegmentMs, endMs - resumed >= Self.minResumedSpeechMs else { return [] }
            state = .speaking(turnStartMs: resumed)
            return [.turnStarted(atMs: resumed)] + pause(start: resumed, speechEndMs: endMs)
        }
        guard case .speaking(let start) = state else { return [] }
        switch mode {
        case .fixedSilence:
            state = .idle
            return [.turnEnded(startMs: start, endMs: endMs, EndOfTurnDecision(reason: .fixedSilence, probability: nil, silenceMs: max(0, nowMs - endMs)))]
        case .model:
            // The input never got quiet enough for the loudness to mark the pause (noise):
            // the VAD's segment end is the pause.
            return pause(start: start, speechEndMs: endMs)
        }
    }

    /// The input has been quiet since `sinceMs` (now `nowMs`): after `probeMs` of it, a turn
    /// in progress pauses and the model is asked.
    mutating func quiet(sinceMs: Int, nowMs: Int) -> [Action] {
        guard case .model(let probeMs, _, _, _, _) = mode, case .speaking(let start) = state,
              nowMs - sinceMs >= probeMs
        else { return [] }
        return pause(start: start, speechEndMs: sinceMs)
    }

    /// The input got loud again at `atMs` after a quiet stretch. A paused turn goes on (the
    /// model's answer for the pause, if still to come, is stale). With no turn in progress,
    /// sound inside a segment the VAD has not closed yet (the model ended the turn before the
    /// VAD's silence passed) is remembered: it becomes a turn only if the VAD's segment then
    /// shows it was real speech (see ``speechEnded(atMs:nowMs:)``), so a breath or a click
    /// after a decision does not start one.
    mutating func loud(atMs: Int, vadSpeaking: Bool) -> [Action] {
        guard case .model = mode else { return [] }
        switch state {
        case .paused(let start, _, _):
            state = .speaking(turnStartMs: start)
            return []
        case .idle where vadSpeaking && resumedInSegmentMs == nil:
            resumedInSegmentMs = atMs
            return []
        default:
            return []
        }
    }

    private mutating func pause(start: Int, speechEndMs: Int) -> [Action] {
        if case .paused(_, let end, _) = state, end == speechEndMs { asksInPause += 1 } else { asksInPause = 1 }
        probes += 1
        state = .paused(turnStartMs: start, speechEndMs: speechEndMs, probe: .running(id: probes))
        return [.probe(id: probes, turnStartMs: start)]
    }

    /// The model answered call `id` (nil: the call failed), taken into account at `nowMs`.
    mutating func probeFinished(id: Int, probability: Float?, nowMs: Int) -> [Action] {
        guard case .model(_, let threshold, let maxSilence, _, _) = mode,
              case .paused(let start, let end, .running(let running)) = state, running == id
        else { return [] }
        // Later answers in a long pause need less certainty: the longer the silence, the more
        // likely the turn is over (the bar falls linearly to 0 at `maxSilence`). The first
        // answer of a pause always meets the full threshold.
        let bar = asksInPause <= 1 ? threshold : threshold * max(0, 1 - Float(max(0, nowMs - end)) / Float(maxSilence))
        guard let probability else {
            state = .paused(turnStartMs: start, speechEndMs: end, probe: .failed)
            return advanced(toMs: nowMs)
        }
        let silence = max(0, nowMs - end)
        let complete = probability >= bar
        let probe = TurnProbe(atMs: nowMs, silenceMs: silence, probability: probability, complete: complete)
        guard complete else {
            state = .paused(turnStartMs: start, speechEndMs: end, probe: .incomplete(probability))
            return [.probed(probe)] + advanced(toMs: nowMs)
        }
        state = .idle
        return [.probed(probe), .turnEnded(startMs: start, endMs: end, EndOfTurnDecision(reason: .model, probability: probability, silenceMs: silence))]
    }

    /// Input time advanced to `nowMs` (after every chunk): a pause that lasted long enough ends
    /// the turn whatever the model said.
    mutating func advanced(toMs nowMs: Int) -> [Action] {
        guard case .model(let probeMs, _, let maxSilence, let fallback, let reprobe) = mode,
              case .paused(let start, let end, let probe) = state
        else { return [] }
        let silence = max(0, nowMs - end)
        switch probe {
        case .incomplete where silence < maxSilence && reprobe > 0 && (silence - probeMs) / reprobe > asksInPause - 1:
            // Still silent a while after an "incomplete": ask again.
            return pause(start: start, speechEndMs: end)
        case .failed where silence >= fallback:
            state = .idle
            return [.turnEnded(startMs: start, endMs: end, EndOfTurnDecision(reason: .modelFailed, probability: nil, silenceMs: silence))]
        case .incomplete(let probability) where silence >= maxSilence:
            state = .idle
            return [.turnEnded(startMs: start, endMs: end, EndOfTurnDecision(reason: .maxSilence, probability: probability, silenceMs: silence))]
        case .running where silence >= maxSilence:
            // The model is far behind (an overloaded executor): the silence decides.
            state = .idle
            return [.turnEnded(startMs: start, endMs: end, EndOfTurnDecision(reason: .maxSilence, probability: nil, silenceMs: silence))]
        default:
            return []
        }
    }

    /// The microphone stream ended: a turn in progress ends with what was heard.
    mutating func finish(nowMs: Int) -> [Action] {
        switch state {
        case .idle:
            return []
        case .speaking(let start):
            state = .idle
            return [.turnEnded(startMs: start, endMs: nowMs, EndOfTurnDecision(reason: .streamEnded, probability: nil, silenceMs: 0))]
        case .paused(let start, let end, let probe):
            state = .idle
            var probability: Float?
            if case .incomplete(let p) = probe { probability = p }
            return [.turnEnded(startMs: start, endMs: end, EndOfTurnDecision(reason: .streamEnded, probability: probability, silenceMs: max(0, nowMs - end)))]
        }
    }
}
