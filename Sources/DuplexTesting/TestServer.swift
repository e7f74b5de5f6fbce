import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexOrchestrator
import DuplexSecurity
import DuplexWorker
import Foundation
import GRPCInProcessTransport
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// Runs a real orchestrator (HTTP + WebSocket on a free loopback port) for the duration
/// of `body`, with the in-process worker or the given remote workers.
public enum TestServer {
    /// A running server.
    public struct Handle: Sendable {
        /// The bound port.
        public var port: Int
        /// `ws://127.0.0.1:PORT/ws`.
        public var webSocketURL: String { "ws://127.0.0.1:\(port)/ws" }
        /// `http://127.0.0.1:PORT`.
        public var httpURL: String { "http://127.0.0.1:\(port)" }
    }

    /// A configuration for tests: free port, sine + espeak, espeak default.
    public static func configuration(workers: [String] = []) -> DuplexConfiguration {
        var config = DuplexConfiguration()
        config.server.port = 0
        config.worker.adapters = ["sine", "espeak"]
        config.worker.defaultModel = "espeak-en-us"
        config.worker.voicepacksDir = "/nonexistent"
        config.orchestrator.workers = workers
        // The stall watchdog is a wall-clock timer: on a machine running the whole suite a
        // healthy worker can be starved of CPU for seconds, and a short timeout then fails a
        // reply that would have completed. Stall detection is proven on an injected clock
        // (DuplexEngineTests) and against a really frozen worker (FrozenWorkerTests); dead
        // workers are seen at once through their closed connections.
        config.orchestrator.workerTimeoutMs = 30_000
        // A fixed capacity: `auto` derives it from the warmup's speed, which on a machine
        // running the whole suite can be a single session, so a test's second connection would
        // race the first one's teardown for it (capacity has its own tests).
        config.worker.maxSessions = 8
        return config
    }

    /// Starts the server without waiting for a healthy worker (for tests of "no worker").
    public static func withoutHealthCheck<T: Sendable>(
        _ config: DuplexConfiguration, _ body: @escaping @Sendable (Handle) async throws -> T
    ) async throws -> T {
        try await with(config, waitForWorker: false, body)
    }

    /// Starts the server, runs `body`, stops the server.
    public static func with<T: Sendable>(
        _ config: DuplexConfiguration = configuration(), speech: (any SpeechRecognition)? = nil, waitForWorker: Bool = true,
        probe: SessionProbe? = nil, access: AccessControl? = nil, _ body: @escaping @Sendable (Handle) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "duplex.test")
        logger.logLevel = .warning
        let timeout = Duration.milliseconds(config.orchestrator.workerTimeoutMs)
        var services: [any Service] = []
        let pool: WorkerPool
        if let (remote, remoteServices) = try WorkerPool.remote(config, logger: logger) {
            pool = remote
            services += remoteServices
        } else {
            let transport = InProcessTransport()
            let runtime = WorkerRuntime(configuration: config, logger: logger)
            services.append(WorkerServerService(transport: transport.server, runtime: runtime, logger: logger))
            let connection = WorkerConnection(transport: transport.client, address: "in-process", timeout: timeout)
            services.append(connection)
            pool = WorkerPool(connections: [connection])
        }
        let port = AsyncBoundedQueue<Int>(capacity: 1)
        let app = try await OrchestratorApp.make(
            configuration: config, pool: pool, registry: PrometheusCollectorRegistry(),
            logger: logger, services: services, speech: speech, probe: probe, access: access, onListening: { try? await port.send($0) })
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            guard let bound = try await port.next() else { throw DuplexError(.internal, "server did not start") }
            // Wait until the worker is ready (default model loaded).
            let host = config.server.host == "0.0.0.0" || ServerSection.isLoopback(config.server.host) ? "127.0.0.1" : config.server.host
            if waitForWorker { try await waitUntilHealthy(host: host, port: bound, tls: config.server.tls != .off) }
            let result = try await body(Handle(port: bound))
            group.cancelAll()
            return result
        }
    }

    /// Polls `/health` until it reports ok (at most ~20 s); over TLS through `curl -k`.
    public static func waitUntilHealthy(host: String = "127.0.0.1", port: Int, tls: Bool = false) async throws {
        for _ in 0..<200 {
            if let (data, _) = try? await (tls ? HTTP.getInsecureTLS("https://\(host):\(port)/health") : HTTP.get("http://\(host):\(port)/health")),
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], json["status"] as? String == "ok"
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DuplexError(.workerUnavailable, "server on port \(port) never became healthy")
    }
}

/// A minimal HTTP/1.1 GET for tests (see ``PlainHTTP``).
public enum HTTP {
    /// Returns the body and status code.
    public static func get(_ url: String) async throws -> (Data, Int) {
        guard let parsed = URL(string: url), let host = parsed.host, let port = parsed.port else {
            throw DuplexError(.invalidMessage, "bad url \(url)")
        }
        let response = try await PlainHTTP.get(host: host, port: port, path: (parsed.path.isEmpty ? "/" : parsed.path) + (parsed.query.map { "?\($0)" } ?? ""))
        return (response.body, response.status)
    }

    /// A GET over HTTPS that accepts any certificate (`curl -k`; tests of servers that make
    /// their own certificate).
    public static func getInsecureTLS(_ url: String) async throws -> (Data, Int) {
        let run = try await ProgramRun.run("/usr/bin/curl", ["-sk", "-o", "-", "-w", "\n%{http_code}", url], timeout: .seconds(10))
        guard run.status == 0, let split = run.output.lastIndex(of: "\n"), let status = Int(run.output[run.output.index(after: split)...]) else {
            throw DuplexError(.io, "curl \(url) failed: \(run.errors)")
        }
        return (Data(run.output[..<split].utf8), status)
    }
}
