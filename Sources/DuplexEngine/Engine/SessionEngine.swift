import DuplexConfig
import DuplexCore
import Logging
import Synchronization

/// The conversation engine: one client session's logic, independent of any transport.
///
/// A transport adapter turns its client's messages into ``SessionInput`` events and hands
/// them to ``run(_:output:)`` as an `AsyncSequence`; everything the client must hear or see
/// comes back through the ``SessionOutput``. The session ends when the input sequence ends
/// (the client is gone).
///
/// Inside, one task group runs the session's lanes: the receive path (this task: client
/// messages, and the microphone through the VAD), the binding lane (worker sessions: open,
/// model switches, failover), the control lane (worker PAUSE/RESUME/STOP), the playback lane
/// (replies one after another) and the turn lane (Whisper, responder). Worker RPCs never run
/// on the receive path, and everything the session started ends with it: teardown cancels the
/// group, closes the worker session and releases its reservation.
///
/// ```swift
/// let engine = SessionEngine(id: id, configuration: SessionConfiguration(config), pool: pool,
///                            speech: speech, responder: responder, clock: ContinuousClock(), logger: logger)
/// await engine.run(inputEvents, output: encoder)
/// ```
public struct SessionEngine<C: Clock & Sendable>: Sendable where C.Duration == Duration {
    /// The session id (worker session ids and turn ids derive from it).
    public let id: String
    let configuration: SessionConfiguration
    let pool: WorkerPool
    let speech: (any SpeechRecognition)?
    let responder: any Responder
    let clock: C
    let logger: Logger
    let probe: SessionProbe?
    /// The budget of the client's API key (nil: no limits).
    public let quota: KeyQuota?

    /// Creates the engine for one session.
    /// - Parameters:
    ///   - speech: the VAD and ASR for conversation mode (nil: text only).
    ///   - clock: the clock every timeout and measurement uses (tests inject a manual one).
    ///   - probe: live counters for tests and diagnostics.
    ///   - quota: the budget of the client's API key (`quotas:`): audio input, reply audio and
    ///     LLM tokens are checked against it, and its key is the tenant workers schedule
    ///     fairly. Nil: no limits.
    public init(
        id: String, configuration: SessionConfiguration, pool: WorkerPool, speech: (any SpeechRecognition)?,
        responder: any Responder, clock: C, logger: Logger, probe: SessionProbe? = nil, quota: KeyQuota? = nil
    ) {
        self.id = id
        self.configuration = configuration
        self.pool = pool
        self.speech = speech
        self.responder = responder
        self.clock = clock
        var logger = logger
        logger[metadataKey: "session.id"] = "\(id)"
        self.logger = logger
        self.probe = probe
        self.quota = quota
    }

    /// Serves the session until `input` ends (or the calling task is cancelled), then tears
    /// everything down; the worker session is ended even when the task was cancelled.
    public func run<Input: AsyncSequence & Sendable>(_ input: Input, output: some SessionOutput) async
    where Input.Element == SessionInput {
        let session = Session(engine: self, output: output)
        await probe.tracking {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await session.runBindingLane() }
                group.addTask { await session.runControlLane() }
                group.addTask { await session.runPlaybackLane() }
                group.addTask { await session.runTurnLane() }
                session.openWorkerSession()
                do {
                    for try await event in input {
                        await session.receive(event)
                    }
                } catch {
                    logger.debug("client input ended", metadata: ["error.message": "\(error)"])
                }
                session.close()
                group.cancelAll()
            }
            await session.releaseWorker()
        }
    }
}

extension Optional where Wrapped == SessionProbe {
    func tracking<T>(_ body: () async throws -> T) async rethrows -> T {
        guard let probe = self else { return try await body() }
        return try await probe.tracking(body)
    }
}
