import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexProto
import DuplexSherpa
import GRPCCore
import GRPCInProcessTransport
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// Everything a worker needs, assembled from configuration: adapters, catalog, model
/// manager and the gRPC service.
public struct WorkerRuntime: Sendable {
    /// The gRPC service.
    public let service: TTSWorkerService
    /// How often the evictor runs.
    public let evictInterval: Duration

    /// Runs neural inference (Piper) in deadline order on `worker.inference_threads` threads.
    public let scheduler: InferenceScheduler

    /// Builds the runtime.
    public init(configuration: DuplexConfiguration, logger: Logger) {
        let scheduler = InferenceScheduler(
            name: "inference", threadBudget: configuration.worker.inferenceThreads,
            aheadWindow: .milliseconds(configuration.worker.synthesisAheadMs),
            width: .init(rawValue: configuration.worker.inferenceWidth) ?? .adaptive)
        self.scheduler = scheduler
        let adapters: [any TTSAdapter] = configuration.worker.adapters.compactMap { family in
            switch family {
            case "sine": SineAdapter()
            case "espeak": EspeakAdapter()
            case "piper":
                PiperAdapter(
                    cacheDirectory: configuration.worker.cacheDir,
                    inference: InferenceOptions(
                        provider: configuration.worker.executionProvider, threads: configuration.worker.inferenceThreads),
                    scheduler: scheduler)
            default: nil
            }
        }
        let catalog = ModelCatalog(adapters: adapters, voicepacksDirectory: configuration.worker.voicepacksDir, logger: logger)
        let mode = LoudnessNormalizer.Mode(rawValue: configuration.audio.normalization) ?? .lufs
        let settings = configuration.modelManager
        var policy = ModelPolicy()
        policy.ttl = .milliseconds(settings.ttlMs)
        policy.minResidency = .milliseconds(settings.minResidencyMs)
        policy.residentCap = settings.residentCap
        policy.maxParallelLoads = settings.maxParallelLoads
        policy.warmup = settings.warmup
        let defaultModel = configuration.worker.defaultModel.isEmpty
            ? catalog.preferredDefault()?.modelID : configuration.worker.defaultModel
        if settings.keepDefault, let defaultModel { policy.pinned = [defaultModel] }
        let manager = ModelManager(
            catalog: catalog, normalizer: LoudnessNormalizer(mode: mode, target: configuration.audio.targetLevel),
            warmupText: settings.warmupText, policy: policy, logger: logger)
        service = TTSWorkerService(
            configuration: configuration.worker, manager: manager, scheduler: scheduler, preloadModelIDs: settings.preloadModelIDs,
            logger: logger)
        evictInterval = .milliseconds(settings.evictCheckIntervalMs)
    }
}

/// Runs a `GRPCServer` as a swift-service-lifecycle `Service` with graceful shutdown,
/// after loading and warming the worker's default model.
public struct WorkerServerService<Transport: ServerTransport>: Service {
    private let server: GRPCServer<Transport>
    private let runtime: WorkerRuntime
    private let logger: Logger

    /// Creates the service; `interceptors` see every call first (``WorkerAccess``).
    public init(transport: Transport, runtime: WorkerRuntime, interceptors: [any ServerInterceptor] = [], logger: Logger) {
        // The ABI under both service names: `duplex.tts.v1.TTSService` and the original
        // project's `tts.TTSService` (the same handlers; docs/LEGACY_CLIENTS.md).
        self.server = GRPCServer(
            transport: transport, services: [runtime.service, LegacyTTSService(runtime.service)], interceptors: interceptors)
        self.runtime = runtime
        self.logger = logger
    }

    /// The gRPC server (for its listening address).
    public var grpcServer: GRPCServer<Transport> { server }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                group.addTask {
                    // The evictor: unloads idle models past their TTL or over the resident cap.
                    try? await cancelWhenGracefulShutdown {
                        while !Task.isCancelled {
                            try await Task.sleep(for: runtime.evictInterval)
                            let evicted = await runtime.service.manager.evictIdle()
                            if !evicted.isEmpty { logger.info("evicted idle models", metadata: ["model.ids": "\(evicted)"]) }
                        }
                    }
                }
                do {
                    try await runtime.service.prepare()
                    logger.info("worker ready", metadata: ["model.default": "\(runtime.service.defaultModelID ?? "-")"])
                    let catalog = runtime.service.manager.catalog
                    if let id = runtime.service.defaultModelID, catalog.model(id)?.family == "espeak",
                        !catalog.all.contains(where: { $0.family == "piper" })
                    {
                        logger.warning(
                            "no Piper voice installed: speaking with espeak-ng. Install one with `duplex models install piper-en-us-joe` (or scripts/setup.sh).")
                    }
                } catch {
                    logger.error("worker could not load its default model", metadata: ["error.message": "\(error)"])
                    server.beginGracefulShutdown()
                    throw error
                }
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
