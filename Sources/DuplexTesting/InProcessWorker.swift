import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexWorker
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging

/// A Swift worker served in this process over real gRPC (HTTP/2 on a free loopback port), for
/// the adapter conformance suites: the real `TTSWorkerService` (optionally wrapped, e.g. by a
/// ``FaultyWorker``), its default model loaded, and a ``WorkerConnection`` to it.
///
/// HTTP/2 rather than gRPC's in-process transport: the in-process transport never tells a
/// server that its client cancelled a stream (it ends the request stream as if the client
/// had finished), so cancellation could not be checked through it.
public enum InProcessWorker {
    /// A configuration with `adapters` and `defaultModel`, voice packs from `voicepacks`.
    public static func configuration(adapters: [String], defaultModel: String, voicepacks: String = "/nonexistent") -> DuplexConfiguration {
        var config = DuplexConfiguration()
        config.worker.adapters = adapters
        config.worker.defaultModel = defaultModel
        config.worker.voicepacksDir = voicepacks
        config.worker.cacheDir = TestAssets.deps + "/test-cache"
        config.worker.maxSessions = 8
        return config
    }

    /// Runs `body` with a connection to the worker built from `configuration`.
    public static func with<T: Sendable>(
        _ configuration: DuplexConfiguration, wrap: @escaping @Sendable (TTSWorkerService) -> any RegistrableRPCService = { $0 },
        _ body: @escaping @Sendable (WorkerConnection) async throws -> T
    ) async throws -> T {
        try await withRuntime(configuration, wrap: wrap) { connection, _ in try await body(connection) }
    }

    /// Runs `body` with a connection to the worker built from `configuration` and the worker's
    /// runtime (its service and inference scheduler).
    public static func withRuntime<T: Sendable>(
        _ configuration: DuplexConfiguration, wrap: @escaping @Sendable (TTSWorkerService) -> any RegistrableRPCService = { $0 },
        _ body: @escaping @Sendable (WorkerConnection, WorkerRuntime) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "duplex.test-worker")
        logger.logLevel = .error
        let runtime = WorkerRuntime(configuration: configuration, logger: logger)
        try await runtime.service.prepare()
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [wrap(runtime.service)])
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await server.serve()
                return nil
            }
            defer { server.beginGracefulShutdown() }
            guard let port = try await transport.listeningAddress.ipv4?.port else {
                throw DuplexError(.internal, "the test worker did not bind a port")
            }
            let connection = try WorkerConnection(address: WorkerAddress(parsing: "grpc://127.0.0.1:\(port)"), timeout: .seconds(30))
            group.addTask {
                try await connection.run()
                return nil
            }
            defer { runtime.scheduler.shutdown() }
            let result = try await body(connection, runtime)
            connection.shutdown()
            server.beginGracefulShutdown()
            try await group.waitForAll()
            return result
        }
    }
}
