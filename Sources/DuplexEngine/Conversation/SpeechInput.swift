import DuplexAudioFilters
import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexSherpa
import DuplexTurn
import Foundation
import Synchronization

/// Turns one client's microphone stream into speech events and transcripts: s16le PCM at the
/// client's rate → 16 kHz → Silero VAD → utterance → Whisper.
///
/// The building block of conversation mode. Calls are serialized by the actor; VAD and
/// Whisper run on the shared ``SpeechServices`` executors, never on the event loop.
public actor SpeechInput: SpeechListener {
    /// What the input noticed.
    public typealias Event = SpeechEvent

    /// What Whisper heard in an utterance, or nil for nothing speakable (empty, or a typical
    /// silence hallucination), with the decode time.
    public nonisolated func transcribe(_ audio: [Float]) async throws(DuplexError) -> Transcript? {
        let recognizer = services.recognizer
        let started = ContinuousClock.now
        let transcription: Transcription
        do {
            transcription = try await services.asrExecutor.run { recognizer.transcribe(audio) }
        } catch {
            throw DuplexError.wrap(error, as: .internal, "Speech recognition failed.")
        }
        let text = TranscriptFilter.clean(transcription.text)
        return text.isEmpty ? nil : Transcript(text: text, decodeMs: Int(started.duration(to: .now).millisecondsDouble))
    }

    /// The client's sample rate.
    public let inputSampleRate: Int
    private nonisolated let services: SpeechServices
    private let vad: VoiceActivityDetector
    private let edge: VoiceActivityDetector
    private let resampler: Resampler
    /// The last ~20 s of 16 kHz input (for speculative and partial transcripts, the
    /// end-of-turn model and, with a model, the turn's audio).
    private var recent: [Float] = []
    private var recentStart = 0
    private static let recentLimit = VoiceActivityDetector.sampleRate * 25
    /// When turns end (the pure logic; this actor feeds it and performs its actions).
    private var policy: EndOfTurnPolicy
    /// Where the input's speech energy stops and resumes (the early pause signal).
    private var pauses = PauseDetector()
    /// Noise suppression (`input.denoise`), before everything that listens.
    private let denoiser: (any Denoiser)?
    /// Echo cancellation (`input.echo_cancel`) against the reply audio sent to the client.
    private let echo: EchoCanceller?
    /// Reply frames sent since the last chunk (48 kHz s16le), handed over by the playback path.
    private nonisolated let sentReplyAudio = Mutex<[Data]>([])
    private nonisolated let cancelsEcho: Bool
    /// Holds back the echo the canceller has not learnt to remove yet.
    private var echoGate = EchoGate()
    /// The end-of-turn model call in flight (polled after each chunk).
    private var probe: (id: Int, answer: AsyncPromise<Float?>)?
    /// The partial transcript in flight, for turn number `turn`.
    private var partial: (turn: Int, text: AsyncPromise<String?>)?
    private var lastPartialMs = 0
    /// The quiet stretch (its start, input ms) a speculative transcript was started for.
    private var speculatedQuietMs: Int?
    private var turnNumber = 0
    /// Manual turns: where the pending input begins (input ms; see ``cut()``).
    private var cutMs = 0
    private var oddByte: UInt8?
    private var received = 0
    /// 16 kHz samples that reached the detectors.
    private var heard = 0
    private let clockStart = ContinuousClock.now
    /// Audio kept before a turn's detected onset (Silero dates onsets a little late).
    private static let leadMs = 300

    /// Rates a client may declare.
    public static let supportedRates: Set<Int> = [8000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]
    /// Input may run ahead of real time by this much (network bursts) before it is refused.
    public let burstAllowance: Duration
    /// Offline use (tests, batch processing): wait for each end-of-turn model call and partial
    /// transcript in the chunk that started it, so what is heard does not depend on how fast
    /// the audio is fed. Live sessions never wait (the answers are picked up after a later chunk).
    public let waitsForModels: Bool
    /// Whether this listener reports live partial transcripts (the session asked for them and
    /// `turn.partial_interval_ms` is not 0).
    public let partialTranscripts: Bool

    /// Creates an input for one session.
    /// - Throws: ``DuplexError`` (`invalidMessage` for an unsupported rate, `modelLoadFailed` for the VAD).
    public init(
        inputSampleRate: Int, services: SpeechServices, burstAllowance: Duration = .seconds(2), waitsForModels: Bool = false,
        partialTranscripts: Bool = false
    ) throws(DuplexError) {
        guard Self.supportedRates.contains(inputSampleRate) else {
            throw DuplexError(
                .invalidMessage,
                "input_sample_rate \(inputSampleRate) is not supported; use one of \(Self.supportedRates.sorted().map(String.init).joined(separator: ", ")).")
        }
        self.inputSampleRate = inputSampleRate
        self.services = services
        self.burstAllowance = burstAllowance
        self.waitsForModels = waitsForModels
        self.partialTranscripts = partialTranscripts && services.turn.partialIntervalMs > 0
        self.vad = try VoiceActivityDetector(model: services.vadModel, parameters: services.turnVADParameters)
        self.edge = try VoiceActivityDetector(model: services.vadModel, parameters: services.bargeInParameters)
        self.resampler = try Resampler(from: inputSampleRate, to: VoiceActivityDetector.sampleRate)
        self.denoiser = try DenoiserKind(rawValue: services.input.denoise)?.makeDenoiser(directory: services.input.denoiseDir)
        self.echo = try EchoCancellerKind(rawValue: services.input.echoCancel)?
            .makeEchoCanceller(configuration: SpeechServices.echoConfiguration(services.input))
        self.cancelsEcho = echo != nil
        self.policy = EndOfTurnPolicy(
            mode: services.endOfTurnModel == nil
                ? .fixedSilence
                : .model(probeMs: services.turn.probeMs, threshold: services.turn.threshold, maxSilenceMs: services.turn.maxSilenceMs,
                         fallbackSilenceMs: services.vadParameters.minSilenceMs, reprobeMs: services.turn.reprobeMs))
    }

    /// Milliseconds of input audio heard so far: the time line of the speech events (16 kHz
    /// samples through the resampler and the filters, whose delays it leaves out).
    public var positionMs: Int { heard * 1000 / VoiceActivityDetector.sampleRate }

    /// Feeds a chunk of s16le mono PCM (any size; an odd trailing byte is kept for the next chunk).
    /// - Throws: ``DuplexError`` (`invalidAudio`) when audio arrives faster than real time
    ///   beyond ``burstAllowance``.
    public func accept(_ pcm: Data) async throws(DuplexError) -> [Event] {
        var bytes = pcm
        if let odd = oddByte {
            bytes.insert(odd, at: bytes.startIndex)
            oddByte = nil
        }
        if bytes.count % 2 == 1 { oddByte = bytes.removeLast() }
        received += bytes.count / 2
        let audioTime = Duration.milliseconds(received * 1000 / inputSampleRate)
        if audioTime > clockStart.duration(to: .now) + burstAllowance {
            throw DuplexError(
                .invalidAudio,
                "Audio arrives faster than real time (\(audioTime) of audio in \(clockStart.duration(to: .now))); send it at the pace it is recorded.")
        }
        let samples = bytes.withUnsafeBytes { SampleConversion.float(fromLittleEndianBytes: $0) }
        return try await detect(filtered(resampler.process(samples)), flush: false)
    }

    /// Takes a reply frame as it leaves for the client (the echo canceller's reference).
    public nonisolated func replyAudioSent(_ frame: Data) {
        guard cancelsEcho else { return }
        sentReplyAudio.withLock { $0.append(frame) }
    }

    /// A 48 kHz s16le reply frame at 16 kHz for the echo canceller: the mean of each three
    /// samples. A zero-delay low-pass is enough for a reference, and a resampler's filter
    /// delay would put the reference behind the echo it must predict.
    private static func appendReference(of frame: Data, to reference: inout [Float]) {
        frame.withUnsafeBytes { raw in
            let samples = raw.bindMemory(to: Int16.self)
            reference.reserveCapacity(reference.count + samples.count / 3)
            for index in 0..<(samples.count / 3) {
                let sum = Int(Int16(littleEndian: samples[3 * index])) + Int(Int16(littleEndian: samples[3 * index + 1]))
                    + Int(Int16(littleEndian: samples[3 * index + 2]))
                reference.append(Float(sum) / (3 * 32768))
            }
        }
    }

    /// The echo of the reply removed (against what was sent since the last chunk), then the noise.
    private func filtered(_ microphone: [Float]) -> [Float] {
        var samples = microphone
        if let echo {
            var reference: [Float] = []
            for frame in sentReplyAudio.withLock({ sent in defer { sent.removeAll(keepingCapacity: true) }; return sent }) {
                Self.appendReference(of: frame, to: &reference)
            }
            echo.playback(reference)
            echoGate.reference(reference)
            samples = echo.capture(samples)
            echoGate.apply(to: &samples)
        }
        if let denoiser { samples = denoiser.process(samples) }
        return samples
    }

    /// The input since the previous cut (at most the ~20 s still kept), for a manual turn.
    public func cut() -> [Float] {
        let audio = turnAudio(fromMs: cutMs, toMs: positionMs)
        cutMs = positionMs
        return audio
    }

    /// Forgets the input since the previous cut.
    public func clearPending() {
        cutMs = positionMs
    }

    /// Ends the stream: an utterance still open is closed and transcribed.
    public func finish() async throws(DuplexError) -> [Event] {
        try await detect(filtered(resampler.flush()), flush: true)
    }

    private func detect(_ samples: [Float], flush: Bool) async throws(DuplexError) -> [Event] {
        heard += samples.count
        recent += samples
        if recent.count > Self.recentLimit {
            let drop = recent.count - Self.recentLimit * 4 / 5
            recent.removeFirst(drop)
            recentStart += drop
        }
        let vad = self.vad, edge = self.edge
        let detected: Detected
        do {
            detected = try await services.vadExecutor.run {
                // The barge-in edge first: it is the one that must act fastest.
                let edgeEvents = edge.accept(samples) + (flush ? edge.flush() : [])
                let turnEvents = vad.accept(samples) + (flush ? vad.flush() : [])
                return Detected(edge: edgeEvents, turn: turnEvents, edgeSpeaking: edge.isSpeaking, turnSpeaking: vad.isSpeaking)
            }
        } catch {
            throw DuplexError.wrap(error, as: .internal, "Voice activity detection failed.")
        }
        let nowMs = positionMs
        var events: [Event] = []
        var paused = false
        for event in detected.edge {
            switch event {
            case .speechStarted(let at): events.append(.bargeInEdge(atMs: nowMs, onsetMs: Int(at * 1000)))
            case .speechEnded(let start, let end, _):
                events.append(.bargeInEdgeEnded(atMs: Int(end * 1000), onsetMs: Int(start * 1000)))
                paused = true
            }
        }
        // The end-of-turn policy: VAD segment edges, the model's answer, the clock.
        var actions: [EndOfTurnPolicy.Action] = []
        var segment: [Float] = []
        for event in detected.turn {
            switch event {
            case .speechStarted(let at):
                actions += policy.speechStarted(atMs: Int(at * 1000))
            case .speechEnded(_, let end, let audio):
                segment = audio
                actions += policy.speechEnded(atMs: Int(end * 1000), nowMs: nowMs)
            }
        }
        pauses.accept(samples)
        if let resumed = pauses.resumedAtMs { actions += policy.loud(atMs: resumed, vadSpeaking: detected.turnSpeaking) }
        if let quiet = pauses.quietSinceMs { actions += policy.quiet(sinceMs: quiet, nowMs: nowMs) }
        if let pending = probe, let answer = pending.answer.current {
            probe = nil
            actions += policy.probeFinished(id: pending.id, probability: answer, nowMs: nowMs)
        }
        actions += flush ? policy.finish(nowMs: nowMs) : policy.advanced(toMs: nowMs)
        while !actions.isEmpty {
            let action = actions.removeFirst()
            switch action {
            case .turnStarted(let atMs):
                turnNumber += 1
                pauses.turnStarted()
                lastPartialMs = atMs
                events.append(.speechStarted(atMs: atMs))
            case .probe(let id, let turnStartMs):
                startProbe(id: id, audio: turnAudio(fromMs: turnStartMs - Self.leadMs, toMs: nowMs))
                if waitsForModels, let pending = probe {
                    let answer = await pending.answer.value() ?? nil
                    probe = nil
                    actions += policy.probeFinished(id: pending.id, probability: answer, nowMs: nowMs)
                }
            case .probed(let result):
                events.append(.turnProbed(result))
            case .turnEnded(let startMs, let endMs, let decision):
                probe = nil
                partial = nil
                // Fixed silence keeps the VAD's own cut of the segment; a turn the model
                // held across pauses spans several segments: cut it from the recent audio.
                let audio = policy.mode == .fixedSilence && !segment.isEmpty
                    ? segment : turnAudio(fromMs: startMs - Self.leadMs, toMs: min(nowMs, endMs + Self.leadMs))
                events.append(.endOfTurn(decision))
                events.append(.speechEnded(atMs: endMs, startMs: startMs, audio: audio))
            }
        }
        if speculates(nowMs: nowMs, edgePaused: paused, edgeSpeaking: detected.edgeSpeaking), let turnStartMs = policy.turnStartMs {
            // The turn so far (and the hangover), for a speculative transcript.
            let audio = turnAudio(fromMs: turnStartMs - Self.leadMs, toMs: nowMs)
            if !audio.isEmpty { events.append(.speechPaused(atMs: nowMs, audio: audio)) }
        }
        events += await partialTranscripts(nowMs: nowMs)
        return events
    }

    /// Whether to start a speculative transcript of the turn now. With fixed silence: when the
    /// barge-in detector hears the speech stop (its 100 ms hangover), long before the turn's
    /// silence has passed. With the end-of-turn model, which decides ~200 ms into a pause,
    /// that would be too late to hide Whisper: once the input has been quiet for half the
    /// probe pause (once per quiet stretch), so the transcript is being made while the model
    /// is asked.
    private func speculates(nowMs: Int, edgePaused: Bool, edgeSpeaking: Bool) -> Bool {
        guard case .model(let probeMs, _, _, _, _) = policy.mode else { return edgePaused && !edgeSpeaking }
        guard case .speaking = policy.state, let quiet = pauses.quietSinceMs, quiet != speculatedQuietMs,
              nowMs - quiet >= max(64, probeMs / 2)
        else { return false }
        speculatedQuietMs = quiet
        return true
    }

    /// The 16 kHz input between two input times (clipped to what is still kept).
    private func turnAudio(fromMs: Int, toMs: Int) -> [Float] {
        let rate = VoiceActivityDetector.sampleRate
        let first = max(recentStart, fromMs * rate / 1000) - recentStart
        let last = min(recentStart + recent.count, toMs * rate / 1000) - recentStart
        return first < last ? Array(recent[first..<last]) : []
    }

    /// Asks the end-of-turn model about the turn so far, off the receive path: the answer is
    /// picked up after a later chunk. A full queue counts as a failed call (the policy then
    /// falls back to the fixed silence for this pause).
    private func startProbe(id: Int, audio: [Float]) {
        guard let model = services.endOfTurnModel else { return }
        let answer = AsyncPromise<Float?>()
        probe = (id, answer)
        let submitted = services.turnExecutor.submit {
            answer.fulfill(try? model.completionProbability(of: audio))
        }
        if !submitted { answer.fulfill(nil) }
    }

    /// Delivers a finished partial transcript of the turn in progress and starts the next one
    /// (at most every `turn.partial_interval_ms`, while the user speaks, on the latest
    /// `turn.partial_window_ms` of the turn; skipped when the partial executor is busy).
    private func partialTranscripts(nowMs: Int) async -> [Event] {
        var events: [Event] = []
        if waitsForModels, let pending = partial { _ = await pending.text.value() }
        if let pending = partial, let text = pending.text.current {
            partial = nil
            if pending.turn == turnNumber, policy.turnStartMs != nil, let text {
                events.append(.partialTranscript(text: text, atMs: nowMs))
            }
        }
        let interval = services.turn.partialIntervalMs
        guard partialTranscripts, partial == nil, case .speaking(let turnStartMs) = policy.state,
              nowMs - lastPartialMs >= interval
        else { return events }
        // A pause under way gets its speculative transcript: no partial competes with it.
        if let quiet = pauses.quietSinceMs, nowMs - quiet >= 64 { return events }
        lastPartialMs = nowMs
        let audio = turnAudio(fromMs: max(turnStartMs - Self.leadMs, nowMs - services.turn.partialWindowMs), toMs: nowMs)
        let recognizer = services.recognizer
        let text = AsyncPromise<String?>()
        if services.partialExecutor.submit({
            let heard = TranscriptFilter.clean(recognizer.transcribe(audio).text)
            text.fulfill(heard.isEmpty ? nil : heard)
        }) {
            partial = (turnNumber, text)
        }
        return events
    }
}

private struct Detected: Sendable {
    var edge: [VADEvent]
    var turn: [VADEvent]
    var edgeSpeaking: Bool
    var turnSpeaking: Bool
}
