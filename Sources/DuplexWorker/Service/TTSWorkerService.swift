import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import Logging
import Synchronization

/// The worker side of the `duplex.tts.v1.TTSService` ABI (see docs/ABI.md).
///
/// Sessions bind a model (leased from the ``ModelManager``); each `Synthesize` call is one
/// reply run through a ``SynthesisPipeline``; `Control` pauses, resumes or stops the
/// session's current reply, or rescans the voice packs.
public final class TTSWorkerService: Duplex_Tts_V1_TTSService.SimpleServiceProtocol, Sendable {
    private struct Session {
        var modelID: String
        var options: VoiceOptions
        var lease: ModelLease
        var current: SynthesisRun?
    }

    /// The worker's configuration.
    public let configuration: WorkerSection
    /// The model manager.
    public let manager: ModelManager
    /// Live statistics.
    public let stats = WorkerStats()
    /// The inference scheduler neural voices run on (its queue is the worker's true load).
    public let scheduler: InferenceScheduler?
    private let derivedCapacity = Atomic<Int>(0)
    private let sessions = Mutex<[String: Session]>([:])
    private let ready = Atomic<Bool>(false)
    private let logger: Logger
    private let maxSynthesisCharacters: Int
    private let preloadModelIDs: [String]

    /// Creates the service.
    public init(
        configuration: WorkerSection, manager: ModelManager, scheduler: InferenceScheduler? = nil, preloadModelIDs: [String] = [],
        maxSynthesisCharacters: Int = 1_000_000, logger: Logger
    ) {
        self.configuration = configuration
        self.manager = manager
        self.scheduler = scheduler
        self.preloadModelIDs = preloadModelIDs
        self.maxSynthesisCharacters = maxSynthesisCharacters
        self.logger = logger
    }

    /// Whether the default model is loaded and warmed up.
    public var isReady: Bool { ready.load(ordering: .acquiring) }

    /// The model sessions get when they ask for none.
    public var defaultModelID: String? {
        configuration.defaultModel.isEmpty ? manager.catalog.preferredDefault()?.modelID : configuration.defaultModel
    }

    /// Loads and warms up the default model; the worker reports ready afterwards.
    public func prepare() async throws(DuplexError) {
        guard let id = defaultModelID else {
            throw DuplexError(.unknownModel, "No model is installed and no adapter offers one; enable an adapter (worker.adapters).")
        }
        guard manager.catalog.model(id) != nil else {
            throw DuplexError(.unknownModel,
                "worker.default_model '\(id)' is not installed. `duplex models list` shows the installed models.")
        }
        let model = try await manager.load(id)
        if let rtf = model.warmupRealTimeFactor {
            let capacity = Self.capacity(realTimeFactor: rtf)
            derivedCapacity.store(capacity, ordering: .relaxed)
            logger.info("capacity from warmup", metadata: [
                "model.rtf": "\(String(format: "%.3f", rtf))", "worker.max_sessions": "\(configuration.maxSessions == 0 ? "\(capacity) (auto)" : "\(configuration.maxSessions)")",
            ])
        }
        ready.store(true, ordering: .releasing)
        // Preloads come after the default and never make the worker unready.
        for other in preloadModelIDs where other != id {
            do {
                try await manager.load(other)
            } catch {
                logger.warning("preload failed", metadata: ["model.id": "\(other)", "error.message": "\(error.message)"])
            }
        }
    }

    /// Number of open sessions.
    public var sessionCount: Int { sessions.withLock { $0.count } }

    /// The session limit: `worker.max_sessions`, or with `auto` (0) the capacity derived from
    /// the default voice's warmup (32 until it is measured).
    public var maxSessions: Int {
        if configuration.maxSessions > 0 { return configuration.maxSessions }
        let derived = derivedCapacity.load(ordering: .relaxed)
        return derived > 0 ? derived : 32
    }

    /// Real-time sessions a voice of real-time factor `rtf` (measured on every inference
    /// thread, at warmup) can keep fed, all speaking at once: a wide call costs `rtf × threads`
    /// thread-seconds per second of audio, and calls that share the threads one each do
    /// ``narrowThroughputGain`` times the work, so `threads` threads feed
    /// `gain / rtf` sessions; 80% of that, clamped to 1…128.
    static func capacity(realTimeFactor rtf: Double) -> Int {
        guard rtf > 0 else { return 128 }
        return min(128, max(1, Int((0.8 * narrowThroughputGain / rtf).rounded(.down))))
    }

    /// How much more work two one-thread calls do than one two-thread call (`duplex bench
    /// segments` on the joe voice, 2 cores: 1.14–1.26×).
    static let narrowThroughputGain = 1.15

    // MARK: Sessions

    public func startSession(
        request: Duplex_Tts_V1_StartSessionRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_StartSessionResponse {
        try await withRPCCancellationAsTaskCancellation { try await self.openSession(request) }
    }

    /// StartSession's work; a client that went away meanwhile leaves no session behind.
    private func openSession(_ request: Duplex_Tts_V1_StartSessionRequest) async throws -> Duplex_Tts_V1_StartSessionResponse {
        let id = request.sessionID
        guard !id.isEmpty, id.count <= 128 else {
            throw DuplexError(.invalidMessage, "session_id must be 1–128 characters.")
        }
        let options = try VoiceOptions(parsing: request.options)
        guard let modelID = request.modelID.isEmpty ? defaultModelID : request.modelID else {
            throw DuplexError(.unknownModel, "No model is installed.")
        }
        let isNew = sessions.withLock { $0[id] == nil }
        if isNew, sessionCount >= maxSessions {
            throw DuplexError(.sessionLimit, "This worker already serves \(maxSessions) sessions (worker.max_sessions).")
        }
        // Refuse what cannot be served in time, so the router tries another worker.
        if isNew, !options.forceAdmission, configuration.firstAudioTargetMs > 0, sessionCount > 0, let load = scheduler?.load,
            load.ready + load.running > 0,
            load.predictedFirstAudioMs > Double(configuration.firstAudioTargetMs)
        {
            stats.sessionRefused()
            throw DuplexError(
                .overloaded,
                "This worker's inference queue predicts \(Int(load.predictedFirstAudioMs)) ms to first audio, over worker.first_audio_target_ms (\(configuration.firstAudioTargetMs)); try another worker.")
        }
        let lease = try await manager.acquire(modelID)
        if Task.isCancelled {
            await manager.release(lease)
            throw DuplexError(.cancelled, "StartSession was cancelled by its client.")
        }
        let previous: ModelLease? = sessions.withLock { all in
            let old = all[id]?.lease
            all[id] = Session(modelID: modelID, options: options, lease: lease, current: all[id]?.current)
            return old
        }
        if let previous { await manager.release(previous) }
        var response = Duplex_Tts_V1_StartSessionResponse()
        response.success = true
        response.modelID = modelID
        return response
    }

    public func endSession(
        request: Duplex_Tts_V1_EndSessionRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_EndSessionResponse {
        let removed = sessions.withLock { $0.removeValue(forKey: request.sessionID) }
        removed?.current?.stop()
        if let lease = removed?.lease { await manager.release(lease) }
        var response = Duplex_Tts_V1_EndSessionResponse()
        response.success = removed != nil
        return response
    }

    // MARK: Synthesis

    public func synthesize(
        request: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>,
        response: RPCWriter<Duplex_Tts_V1_AudioFrame>,
        context: ServerContext
    ) async throws {
        try await withRPCCancellationAsTaskCancellation { try await self.run(request: request, response: response, tenant: nil) }
    }

    /// The streaming form of `Synthesize`, implemented here (not by the generated default) to
    /// read the request metadata: `duplex-tenant` names the client's key for fair scheduling.
    public func synthesize(
        request: StreamingServerRequest<Duplex_Tts_V1_TextChunk>, context: ServerContext
    ) async throws -> StreamingServerResponse<Duplex_Tts_V1_AudioFrame> {
        let tenant = Self.tenant(request.metadata)
        return StreamingServerResponse { writer in
            // A client that goes away (or a STOP by cancellation) ends the synthesis at once
            // and frees its model lease.
            try await withRPCCancellationAsTaskCancellation {
                try await self.run(request: request.messages, response: writer, tenant: tenant)
            }
            return [:]
        }
    }

    /// The `duplex-tenant` metadata (the client's API key label; at most 64 characters).
    static func tenant(_ metadata: Metadata) -> String? {
        guard let value = metadata[stringValues: "duplex-tenant"].first(where: { _ in true }), !value.isEmpty else { return nil }
        return String(value.prefix(64))
    }

    private func run(
        request: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>, response: RPCWriter<Duplex_Tts_V1_AudioFrame>, tenant: String?
    ) async throws {
        let input = TextInput(request.makeAsyncIterator())
        guard let first = try await input.next() else { return }
        let sessionID = first.sessionID
        guard first.synthesisID.count <= 128 else {
            throw DuplexError(.invalidMessage, "synthesis_id must be at most 128 characters.")
        }
        let run = first.synthesisID.isEmpty ? SynthesisRun() : SynthesisRun(id: first.synthesisID)
        guard let session = sessions.withLock({ $0[sessionID] }) else {
            throw DuplexError(.sessionNotFound, "No worker session '\(sessionID)'; call StartSession first.")
        }
        let lease = try await manager.acquire(session.modelID)
        var options = session.options
        options.tenant = configuration.fairTenants ? tenant : nil
        // A new reply replaces the session's current one.
        let replaced = sessions.withLock { all -> SynthesisRun? in
            let old = all[sessionID]?.current
            all[sessionID]?.current = run
            return old
        }
        replaced?.stop()
        stats.synthesisStarted()
        let pipeline = SynthesisPipeline(
            model: lease.model, options: options, leadFrames: configuration.pacingLeadMs / OutputFormat.frameMilliseconds,
            synthesisAhead: configuration.synthesisAhead, maxCharacters: maxSynthesisCharacters,
            margin: .milliseconds(configuration.synthesisMarginMs), clock: ContinuousClock())
        let pending = Locked<Duplex_Tts_V1_TextChunk?>(first)
        var figures = SynthesisFigures()
        do {
            let result = try await pipeline.run(
                run,
                nextText: {
                    if let chunk = pending.withLock({ p in defer { p = nil }; return p }) {
                        return TextPiece(text: chunk.text, isFinal: chunk.isFinal)
                    }
                    return try await input.next().map { TextPiece(text: $0.text, isFinal: $0.isFinal) }
                },
                emit: { frame in
                    var message = Duplex_Tts_V1_AudioFrame()
                    message.sessionID = sessionID
                    if frame.sequence == 1 || frame.isFinal { message.synthesisID = run.id }
                    if let segment = frame.segmentStart {
                        var start = Duplex_Tts_V1_SegmentStart()
                        start.index = frame.segmentIndex
                        start.text = segment.text
                        start.inputStart = UInt64(segment.range.lowerBound)
                        start.inputEnd = UInt64(segment.range.upperBound)
                        message.segmentStart = start
                    }
                    message.audioData = frame.pcm
                    message.sampleRate = UInt32(OutputFormat.sampleRate)
                    message.frameDurationMs = UInt32(OutputFormat.frameMilliseconds)
                    message.sequenceNumber = frame.sequence
                    message.segmentIndex = frame.segmentIndex
                    message.isFinal = frame.isFinal
                    if let reason = frame.endReason {
                        message.endReason = reason == .completed ? .completed : .stopped
                    }
                    if let late = frame.late {
                        message.lateFrames = UInt32(clamping: late.frames)
                        message.maxLatenessMs = UInt32(clamping: late.worst.milliseconds)
                    }
                    try await response.write(message)
                })
            figures = result.1
        } catch {
            await finish(run: run, sessionID: sessionID, lease: lease, figures: figures)
            if error is DuplexError || error is RPCError || error is CancellationError { throw error }
            throw DuplexError(.synthesisFailed, "Synthesis failed: \(error)", cause: error)
        }
        await finish(run: run, sessionID: sessionID, lease: lease, figures: figures)
    }

    private func finish(run: SynthesisRun, sessionID: String, lease: ModelLease, figures: SynthesisFigures) async {
        sessions.withLock { all in
            if all[sessionID]?.current === run { all[sessionID]?.current = nil }
        }
        stats.synthesisEnded(figures)
        await manager.release(lease)
    }

    // MARK: Control

    public func control(
        request: Duplex_Tts_V1_ControlRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_ControlResponse {
        // ABI 1.2: every answer carries timestamp_ms (field 3), when the command took effect.
        try await apply(request).stamped()
    }

    private func apply(_ request: Duplex_Tts_V1_ControlRequest) async throws -> Duplex_Tts_V1_ControlResponse {
        var response = Duplex_Tts_V1_ControlResponse()
        if request.command == .reload {
            let problems = manager.catalog.rescan()
            let dropped = await manager.reconcileWithCatalog()
            response.success = problems.isEmpty
            response.message = "\(manager.catalog.all.count) models; \(problems.count) rejected packs"
                + (dropped.isEmpty ? "" : "; unloaded changed: \(dropped.joined(separator: ", "))")
                + problems.map { "\n- \($0.message)" }.joined()
            return response
        }
        let exists = sessions.withLock { $0[request.sessionID] != nil }
        guard exists else {
            throw DuplexError(.sessionNotFound, "No worker session '\(request.sessionID)'.")
        }
        guard let run = sessions.withLock({ $0[request.sessionID]?.current }) else {
            response.success = false
            response.message = "Session '\(request.sessionID)' has no active synthesis."
            return response
        }
        // ABI v1.1: a command addressed to another synthesis (one that already ended) is
        // refused harmlessly, so a late command can never act on the next reply.
        if !request.synthesisID.isEmpty, request.synthesisID != run.id {
            response.success = false
            response.message = "Synthesis '\(request.synthesisID)' is not running (the session's current synthesis is '\(run.id)')."
            return response
        }
        switch request.command {
        case .pause: response.success = run.gate.pause()
        case .resume: response.success = run.gate.resume()
        case .stop:
            run.stop()
            response.success = true
        default:
            throw DuplexError(.invalidMessage, "Unknown control command \(request.command.rawValue).")
        }
        response.framesEmitted = run.framesEmitted
        return response
    }

    // MARK: Models

    public func listModels(
        request: Duplex_Tts_V1_ListModelsRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_ListModelsResponse {
        let residentModels = await manager.residentModels
        let resident = Set(residentModels.map(\.id))
        var response = Duplex_Tts_V1_ListModelsResponse()
        response.models = manager.catalog.all.map { model in
            var info = Duplex_Tts_V1_ModelInfo()
            info.modelID = model.modelID
            info.family = model.family
            info.isLoaded = resident.contains(model.modelID)
            info.languages = model.languages
            info.metadata = model.metadata.merging(
                ["display_name": model.displayName, "sample_rate": "\(model.sampleRate)", "tags": model.tags.sorted().joined(separator: ",")],
                uniquingKeysWith: { a, _ in a })
            if let loaded = residentModels.first(where: { $0.id == model.modelID }) {
                info.metadata["memory_bytes"] = "\(loaded.memoryBytes)"
                info.metadata["idle_ms"] = "\(loaded.idle.milliseconds)"
            }
            return info
        }
        return response
    }

    public func loadModel(
        request: Duplex_Tts_V1_LoadModelRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_LoadModelResponse {
        let start = ContinuousClock.now
        let model = try await manager.load(request.modelID)
        var response = Duplex_Tts_V1_LoadModelResponse()
        response.success = true
        response.loadDurationMs = (ContinuousClock.now - start).milliseconds
        response.message = "loaded in \(model.loadDuration.milliseconds) ms, warmed up in \(model.warmupDuration.milliseconds) ms"
        return response
    }

    public func unloadModel(
        request: Duplex_Tts_V1_UnloadModelRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_UnloadModelResponse {
        try await manager.unload(request.modelID)
        var response = Duplex_Tts_V1_UnloadModelResponse()
        response.success = true
        response.message = "unloaded"
        return response
    }

    public func getCapabilities(
        request: Duplex_Tts_V1_GetCapabilitiesRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_GetCapabilitiesResponse {
        let snapshot = await snapshot()
        var capabilities = Duplex_Tts_V1_Capabilities()
        capabilities.streaming = true
        capabilities.zeroShot = snapshot.capabilities.contains("zero_shot")
        capabilities.lora = snapshot.capabilities.contains("lora")
        capabilities.cpuOk = snapshot.capabilities.contains("cpu_ok")
        capabilities.emotiveZeroPrompt = snapshot.capabilities.contains("expressive")
        capabilities.languages = snapshot.languages
        capabilities.maxConcurrentSessions = Int32(maxSessions)
        var response = Duplex_Tts_V1_GetCapabilitiesResponse()
        response.capabilities = capabilities
        response.residentModels = snapshot.residentModels
        response.workerName = snapshot.name
        response.ready = snapshot.ready
        response.metrics = snapshot.metrics
        response.abiVersion = Self.abiVersion
        return response
    }

    /// What the worker offers and how busy it is (for GetCapabilities and registry entries).
    public struct Snapshot: Sendable {
        /// `worker.name`.
        public var name: String
        /// Whether the default model is loaded.
        public var ready: Bool
        /// `streaming` plus the catalog's tags (`cpu_ok`, `zero_shot`, `lora`, `expressive`, …).
        public var capabilities: [String]
        /// Languages of the catalog's models.
        public var languages: [String]
        /// Catalog model ids.
        public var models: [String]
        /// Resident model ids.
        public var residentModels: [String]
        /// Live figures (`active_sessions`, `queue_depth` (inference jobs waiting), `rtf_p50`,
        /// `first_audio_p50_ms`, `predicted_first_audio_ms`, `predicted_wait_ms`, `earliest_slack_ms`, `busy_fraction`,
        /// `late_frames`, …).
        public var metrics: [String: Double]
    }

    /// The worker's current snapshot.
    public func snapshot() async -> Snapshot {
        let models = manager.catalog.all
        let residentMemory = await manager.residentModels.reduce(0) { $0 + $1.memoryBytes }
        let counters = await manager.counters
        let load = scheduler?.load ?? InferenceLoad()
        var metrics: [String: Double] = [
            "active_sessions": Double(sessionCount),
            "active_syntheses": Double(stats.activeSyntheses),
            "queue_depth": Double(load.waiting),
            "inference_ready": Double(load.ready),
            "inference_running": Double(load.running),
            "busy_fraction": load.busyFraction,
            "predicted_first_audio_ms": load.predictedFirstAudioMs,
            "predicted_wait_ms": load.predictedWaitMs,
            "max_sessions": Double(maxSessions),
            "late_frames": Double(stats.lateFrames),
            "rtf_p50": stats.realTimeFactorP50,
            "first_audio_p50_ms": stats.firstAudioP50,
            "resident_models_memory_bytes": Double(residentMemory),
            "rss_bytes": Double(ProcessMemory.residentBytes),
            "model_loads": Double(counters.loads),
            "model_evictions": Double(counters.evictions),
        ]
        if let slack = load.earliestSlack { metrics["earliest_slack_ms"] = slack.millisecondsDouble }
        return Snapshot(
            name: configuration.name, ready: isReady,
            capabilities: Set(models.flatMap(\.tags)).union(["streaming"]).sorted(),
            languages: Array(Set(models.flatMap(\.languages))).sorted(),
            models: models.map(\.modelID).sorted(),
            residentModels: await manager.residentModelIDs,
            metrics: metrics)
    }

    /// The ABI version this worker implements (reported in `GetCapabilities`).
    public static let abiVersion = "1.2"
}

/// The request stream's iterator, shared between the handler (which reads the first
/// chunk) and the pipeline's reader task (which reads the rest). Only one task calls
/// ``next()`` at a time — the handler before the pipeline starts, then the reader — so
/// the unchecked Sendable conformance is safe.
final class TextInput: @unchecked Sendable {
    private var iterator: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>.AsyncIterator

    init(_ iterator: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> Duplex_Tts_V1_TextChunk? {
        try await iterator.next()
    }
}
