import DuplexConfig
import DuplexCore
import Foundation
import Logging
import Metrics
import Synchronization

/// One running session: the machine, the queues between its lanes, and the receive path.
///
/// The lanes live in extensions by feature (`Session+Binding`, `Session+Playback`,
/// `Session+Conversation`); ``SessionEngine/run(_:output:)`` runs them as one task group
/// beside the receive path.
final class Session<C: Clock & Sendable, Output: SessionOutput>: Sendable where C.Duration == Duration {
    let id: String
    let configuration: SessionConfiguration
    let pool: WorkerPool
    let speech: (any SpeechRecognition)?
    let responder: any Responder
    let clock: C
    let origin: C.Instant
    let logger: Logger
    let probe: SessionProbe?
    let output: Output
    let metrics = SessionMetrics.shared
    /// The client key's budget (nil: no limits).
    let quota: KeyQuota?
    /// The microphone's sample rate (`start.input_sample_rate`), for charging audio seconds.
    let inputSampleRate = Atomic<Int>(16_000)
    /// When the client was last told its audio input is over quota (one notice a second).
    let audioQuotaNotice = Mutex<Duration?>(nil)

    /// The session's state (see ``SessionMachine``).
    let machine: Mutex<SessionMachine>
    /// Replies waiting to play, in order.
    let replies: AsyncBoundedQueue<Reply>
    /// Work for the binding lane.
    let bindingJobs = AsyncBoundedQueue<BindingJob>(capacity: 64)
    /// Transcriptions for the turn lane.
    let transcriptions = AsyncBoundedQueue<TranscriptionJob>(capacity: 32)
    /// Worker PAUSE/RESUME/STOP for the control lane.
    let mailbox = ControlMailbox()

    init(engine: SessionEngine<C>, output: Output) {
        id = engine.id
        configuration = engine.configuration
        pool = engine.pool
        speech = engine.speech
        responder = engine.responder
        clock = engine.clock
        origin = engine.clock.now
        logger = engine.logger
        probe = engine.probe
        quota = engine.quota
        self.output = output
        replies = AsyncBoundedQueue(capacity: engine.configuration.limits.maxQueuedReplies)
        machine = Mutex(SessionMachine(
            sessionID: engine.id, limits: engine.configuration.limits, conversation: engine.configuration.conversation,
            bargeInSettleMs: engine.speech?.bargeInSettleMs ?? 0))
    }

    /// Session time: since the session began, on the injected clock.
    var now: Duration { origin.duration(to: clock.now) }

    // MARK: Receive path

    /// Handles one client event. Never waits for a worker: anything that needs one goes to
    /// a lane.
    func receive(_ event: SessionInput) async {
        switch event {
        case .text(let text, let isFinal):
            let at = now
            let actions = machine.withLock { m in m.clientText(text, isFinal: isFinal, at: at, enqueue: { self.replies.trySend($0) }) }
            _ = await perform(actions)
        case .control(let command):
            _ = await perform(machine.withLock { $0.clientControl(command) })
        case .start(let options):
            await start(options)
        case .audio(let pcm):
            let listener: (any SpeechListener)? = machine.withLock { m in
                if case .microphone(let listener) = m.input { return listener }
                return nil
            }
            guard let listener else {
                await output.write(.error(DuplexError(.invalidMessage, "Binary audio input is only accepted in conversation mode.")))
                return
            }
            if let quota, let refusal = quota.takeAudioIn(seconds: Double(pcm.count / 2) / Double(inputSampleRate.load(ordering: .relaxed))) {
                // Dropped; the client hears about it once a second, not once a chunk.
                let at = now
                let notify = audioQuotaNotice.withLock { last in
                    guard last.map({ at - $0 >= .seconds(1) }) ?? true else { return false }
                    last = at
                    return true
                }
                if notify { await output.write(.error(refusal)) }
                return
            }
            // The VAD runs here, in order, on its own executor (about 0.1 ms a window): the
            // barge-in edge closes the reply's gate without a task hop.
            await hear(pcm, on: listener, receivedAt: now)
        case .commitTurn:
            await commitTurn()
        case .clearTurn:
            await machine.withLock { $0.listener }?.clearPending()
        case .respond(let userText):
            if !transcriptions.trySend(.respond(userText: userText)) {
                await output.write(.error(DuplexError(.overloaded, "Too many turns are waiting to be answered; this request was dropped.")))
            }
        case .addToHistory(let message):
            machine.withLock { $0.history.append(message) }
        }
    }

    /// Manual turns: the audio since the last commit becomes the user's turn.
    private func commitTurn() async {
        let (listener, manual) = machine.withLock { ($0.listener, $0.turnTaking == .manual) }
        guard let listener, manual else {
            await output.write(.error(DuplexError(
                .invalidMessage, "Only a conversation session with manual turn taking commits turns; the VAD ends turns here.")))
            return
        }
        let audio = await listener.cut()
        guard !audio.isEmpty else {
            await output.write(.error(DuplexError(.invalidMessage, "There is no audio to commit; send audio first.")))
            return
        }
        let position = await listener.positionMs
        let at = now
        await perform(machine.withLock { $0.clientCommitted(audio, positionMs: position, at: at, listener: listener) })
    }

    /// `start`: the mode and voice options change at once (audio sent right after it finds
    /// its listener); the worker session follows in the binding lane, which answers with
    /// `session_start` (and `model_status` for a model switch).
    private func start(_ options: SessionOptions) async {
        let conversation = options.mode == .conversation
            || (options.mode == nil && options.inputSampleRate != nil && machine.withLock { $0.mode == .conversation })
        if conversation {
            guard let speech else {
                await output.write(.error(DuplexError(
                    .invalidMessage, "Conversation mode needs the VAD and ASR models, which this server did not load (see `duplex doctor`).")))
                return
            }
            do throws(DuplexError) {
                let rate = options.inputSampleRate ?? 16_000
                let listener = try speech.makeListener(inputSampleRate: rate, partialTranscripts: options.partialTranscripts ?? false)
                inputSampleRate.store(rate, ordering: .relaxed)
                machine.withLock { $0.input = .microphone(listener) }
            } catch {
                await output.write(.error(error))
                return
            }
        } else if options.mode == .tts {
            machine.withLock { $0.input = .text }
        }
        machine.withLock { m in
            m.voiceOptions.merge(options.voiceOptions) { _, new in new }
            if let turnTaking = options.turnTaking { m.turnTaking = turnTaking }
            if let instructions = options.instructions { m.instructions = instructions.isEmpty ? nil : instructions }
        }
        if !bindingJobs.trySend(.apply(model: options.modelID)) {
            await output.write(.error(DuplexError(.overloaded, "Too many start messages are waiting for the worker; wait for session_start.")))
        }
    }

    /// The first worker session (answered with `session_start`).
    func openWorkerSession() {
        _ = bindingJobs.trySend(.open)
    }

    // MARK: Actions

    /// Performs a transition's actions in order; returns a generation to start, if any
    /// (only the turn lane gets those).
    @discardableResult
    func perform(_ actions: [SessionAction]) async -> GenerationRequest? {
        var generation: GenerationRequest?
        for action in actions {
            switch action {
            case .send(let event):
                await output.write(event)
            case .control(let reply, let command):
                if let target = reply.synthesis { mailbox.request(command, for: target.synthesisID) }
            case .transcribe(let job):
                if !transcriptions.trySend(job) {
                    switch job {
                    case .speculative(let pending, _, _): pending.outcome.fulfill(.unavailable)
                    case .utterance:
                        await output.write(.error(DuplexError(.overloaded, "Speech recognition is behind; this utterance was dropped.")))
                    case .respond:
                        await output.write(.error(DuplexError(.overloaded, "Too many turns are waiting to be answered; this request was dropped.")))
                    }
                }
            case .generate(let request):
                generation = request
            case .falseInterruption:
                metrics.falseInterruptions.increment()
            case .bargeIn(let reply, let report):
                // Before anything else about this turn: the client flushes its playback on it.
                await output.write(.bargeIn(report))
                if report.fromEdge { metrics.bargeIn.recordMilliseconds(report.latencyMs) }
                reply.bargeInAnnounced.fire()
            }
        }
        return generation
    }

    // MARK: Teardown

    /// The client is gone: nothing new starts, the current reply stops, the queues end.
    func close() {
        machine.withLock { m in
            m.lifecycle = .closed
            m.composing?.finishText()
            m.composing = nil
            m.playback.reply?.stop(.client)
            m.generation?.cancel.fire()
        }
        replies.finish()
        bindingJobs.finish()
        transcriptions.finish()
        mailbox.close()
    }
}
