import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Logging
import Synchronization

/// Runs a ``SessionEngine`` against scripted parts for a deterministic test: scripted
/// workers behind real gRPC (in-process transport), scripted speech recognition, a scripted
/// responder and a manual clock. The test plays the client (``send(_:)``, ``disconnect()``)
/// and reads what the client would see (``events``).
///
/// ```swift
/// try await EngineHarness.run { session in
///     _ = await session.events.next("session_start")
///     session.send(.text("Hello.", isFinal: true))
///     let synthesis = await session.workers[0].waitForSynthesis(1)
///     …
/// }
/// ```
public final class EngineHarness: Sendable {
    /// The workers, in pool order.
    public let workers: [ScriptedWorker]
    /// The pool the engine routes through.
    public let pool: WorkerPool
    /// The engine's clock.
    public let clock: ManualClock
    /// What the client receives.
    public let output: RecordingOutput
    /// A cursor over ``output`` for the test.
    public let events: EventCursor
    /// The engine's live counters.
    public let probe: SessionProbe
    /// The scripted VAD/ASR.
    public let speech: ScriptedSpeech
    /// The scripted responder.
    public let responder: ScriptedResponder
    /// The session id.
    public let sessionID: String
    /// Set when the engine's `run` returned.
    public let finished = Observed(false)
    /// Fired by ``cancel()``: the task running the engine is cancelled.
    private let cancellation = AsyncSignal()
    private let input: AsyncStream<SessionInput>.Continuation

    private init(
        workers: [ScriptedWorker], pool: WorkerPool, clock: ManualClock, output: RecordingOutput, probe: SessionProbe,
        speech: ScriptedSpeech, responder: ScriptedResponder, sessionID: String, input: AsyncStream<SessionInput>.Continuation
    ) {
        self.workers = workers
        self.pool = pool
        self.clock = clock
        self.output = output
        self.events = EventCursor(output)
        self.probe = probe
        self.speech = speech
        self.responder = responder
        self.sessionID = sessionID
        self.input = input
    }

    /// The default configuration for engine tests: a 2 s stall timeout on the manual clock.
    public static var configuration: SessionConfiguration {
        var conversation = ConversationSection()
        conversation.minInterruptionMs = 300
        conversation.backchannelMaxMs = 800
        return SessionConfiguration(conversation: conversation, workerStallTimeout: .seconds(2))
    }

    /// Runs `body` with a session on `workers`; then the client disconnects and the engine,
    /// the workers and their connections stop.
    public static func run(
        workers: [ScriptedWorker] = [ScriptedWorker(name: "w1")], configuration: SessionConfiguration = configuration,
        speech: ScriptedSpeech = ScriptedSpeech(), responder: ScriptedResponder = ScriptedResponder(), sessionID: String = "s1",
        quota: (@Sendable (ManualClock) -> KeyQuota)? = nil,
        _ body: @escaping @Sendable (EngineHarness) async throws -> Void
    ) async throws {
        var logger = Logger(label: "duplex.engine-test")
        logger.logLevel = .critical
        var servers: [GRPCServer<InProcessTransport.Server>] = []
        var connections: [WorkerConnection] = []
        var transports: [InProcessTransport] = []
        for worker in workers {
            let transport = InProcessTransport()
            transports.append(transport)
            servers.append(GRPCServer(transport: transport.server, services: [worker]))
            connections.append(WorkerConnection(transport: transport.client, address: worker.name, timeout: .seconds(30)))
        }
        let pool = WorkerPool(connections: connections)
        let clock = ManualClock()
        let probe = SessionProbe()
        let output = RecordingOutput()
        let (stream, continuation) = AsyncStream<SessionInput>.makeStream()
        let harness = EngineHarness(
            workers: workers, pool: pool, clock: clock, output: output, probe: probe, speech: speech, responder: responder,
            sessionID: sessionID, input: continuation)
        let engine = SessionEngine(
            id: sessionID, configuration: configuration, pool: pool, speech: speech, responder: responder, clock: clock,
            logger: logger, probe: probe, quota: quota?(clock))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (server, connection) in zip(servers, connections) {
                group.addTask { try await server.serve() }
                group.addTask { try await connection.run() }
            }
            // The engine's first calls must find the connections up.
            for connection in connections {
                var options = CallOptions.defaults
                options.waitForReady = true
                _ = try await connection.tts.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
            }
            group.addTask {
                _ = await withCancellation(on: harness.cancellation) { await engine.run(stream, output: output) }
                harness.finished.update { $0 = true }
            }
            var failure: (any Error)?
            do {
                try await body(harness)
            } catch {
                failure = error
            }
            continuation.finish()
            await harness.finished.wait { $0 }
            for worker in workers {
                worker.thaw()
                worker.releaseStartSession()
                worker.releaseLoad()
            }
            for server in servers { server.beginGracefulShutdown() }
            for connection in connections { connection.shutdown() }
            try await group.waitForAll()
            if let failure { throw failure }
        }
    }

    /// The client sends a message.
    public func send(_ event: SessionInput) {
        input.yield(event)
    }

    /// The client goes away (the engine tears the session down).
    public func disconnect() {
        input.finish()
    }

    /// The task running the engine is cancelled, as an adapter cancels it when its
    /// connection ends (the client's input is not finished first).
    public func cancel() {
        cancellation.fire()
    }

    /// Waits until the engine's `run` returned.
    public func waitUntilFinished() async {
        await finished.wait { $0 }
    }

    /// The worker named `name`.
    public func worker(_ name: String) -> ScriptedWorker? {
        workers.first { $0.name == name }
    }
}

/// Records a session's events for a test.
public final class RecordingOutput: SessionOutput {
    /// Everything written, in order.
    public let events = Observed<[SessionEvent]>([])

    /// Creates an empty recording.
    public init() {}

    public func write(_ event: SessionEvent) async {
        events.update { $0.append(event) }
    }
}

/// Reads a recording in order, the way a client reads its socket.
public final class EventCursor: @unchecked Sendable {
    // Only the test's own task moves the cursor.
    private let output: RecordingOutput
    private var position = 0

    init(_ output: RecordingOutput) {
        self.output = output
    }

    /// The next event of `kind` (a v1 message type such as `tts_end`), skipping others.
    @discardableResult
    public func next(_ kind: String) async -> SessionEvent {
        await next { $0.kind == kind }
    }

    /// The next event matching `predicate`, skipping others.
    @discardableResult
    public func next(where predicate: @escaping @Sendable (SessionEvent) -> Bool) async -> SessionEvent {
        let start = position
        guard let events = await output.events.wait(until: { events in events.dropFirst(start).contains(where: predicate) }),
            let index = events.indices.dropFirst(start).first(where: { predicate(events[$0]) })
        else { return Self.cancelled }
        position = index + 1
        return events[index]
    }

    /// The first event of `kind` in the whole recording (read or not), waiting for one;
    /// the cursor does not move. For events whose order against others is not defined.
    @discardableResult
    public func first(_ kind: String) async -> SessionEvent {
        await output.events.wait { $0.contains { $0.kind == kind } }?.first { $0.kind == kind } ?? Self.cancelled
    }

    /// What a wait returns when the test was cancelled (time limit) before the event came.
    static let cancelled = SessionEvent.error(DuplexError(.cancelled, "The test was cancelled while waiting for an event."))

    /// The events not read yet (without waiting).
    public var pending: [SessionEvent] { Array(output.events.value.dropFirst(position)) }

    /// Events of `kind` so far (read or not).
    public func all(_ kind: String) -> [SessionEvent] { output.events.value.filter { $0.kind == kind } }
}

extension SessionEvent {
    /// The WebSocket v1 message type of the event (`tts_start`, `audio`, …).
    public var kind: String {
        switch self {
        case .sessionStarted: "session_start"
        case .replyStarted: "tts_start"
        case .audio: "audio"
        case .replyEnded: "tts_end"
        case .error: "error"
        case .sessionEnded: "session_end"
        case .modelStatus: "model_status"
        case .voiceActivity, .turnProbe: "vad"
        case .transcript, .partialTranscript: "transcript"
        case .replyText: "reply"
        case .bargeIn: "barge_in"
        case .bargeInResumed: "barge_in_resumed"
        case .workerChanged: "worker_changed"
        case .turnMetrics: "turn_metrics"
        }
    }

    /// The frame identity of an `audio` event made by a ``ScriptedWorker``.
    public var frameIdentity: (tag: UInt32, index: UInt32)? {
        if case .audio(_, let pcm, _) = self { return ScriptedWorker.identity(of: pcm) }
        return nil
    }

    /// The `tts_end` reason.
    public var endReason: ReplyEndReason? {
        if case .replyEnded(_, _, let reason, _) = self { return reason }
        return nil
    }

    /// The error code of an `error` event.
    public var errorCode: String? {
        if case .error(let error) = self { return error.code.rawValue }
        return nil
    }
}
