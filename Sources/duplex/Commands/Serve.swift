import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexOrchestrator
import DuplexWorker
import DuplexWyoming
import Foundation
import GRPCInProcessTransport
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the all-in-one server: orchestrator (HTTP + WebSocket) with an in-process TTS worker.")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var modelManager: ModelManagerOptions

    @Option(help: "Address to bind (server.host).")
    var host: String?

    @Option(help: "Port to bind (server.port).")
    var port: Int?

    @Option(help: "Remote workers instead of the in-process one, comma-separated grpc://host:port (orchestrator.workers).")
    var workers: String?

    @Option(help: "Default model of the in-process worker (worker.default_model).")
    var defaultModel: String?

    @Option(help: "Route to the workers registered in this Redis, redis://host:port (registry.redis_url).")
    var redis: String?

    @Option(help: "Routing strategy with --redis: least_loaded, lowest_latency, round_robin, random (routing.strategy).")
    var strategy: String?

    @Option(help: "Also serve the Wyoming protocol (Home Assistant) on this TCP port (wyoming.port; enables wyoming.enabled).")
    var wyomingPort: Int?

    @Option(help: "TLS on the HTTP/WebSocket port: off, files (with --tls-cert/--tls-key) or self-signed (server.tls).")
    var tls: String?

    @Option(help: "PEM certificate chain for HTTPS/WSS (server.tls_cert; reloaded on SIGHUP).")
    var tlsCert: String?

    @Option(help: "PEM private key for HTTPS/WSS (server.tls_key).")
    var tlsKey: String?

    @Option(help: "With TLS, also redirect plain HTTP on this port to HTTPS (server.http_redirect_port).")
    var httpRedirectPort: Int?

    @Option(help: "An API key clients must present (repeatable; added to security.api_keys). `duplex security new-key` makes one.")
    var apiKey: [String] = []

    @Flag(help: "Serve a non-loopback address without API keys (security.insecure_public).")
    var insecurePublic = false

    @Option(help: "Shared token sent to remote workers on every call (security.worker_token).")
    var workerToken: String?

    func run() async throws {
        let config = try options.load([
            ("server", "host", host), ("server", "port", port.map { "\($0)" }),
            ("orchestrator", "workers", workers), ("worker", "default_model", defaultModel),
            ("registry", "redis_url", redis), ("routing", "strategy", strategy),
            ("wyoming", "port", wyomingPort.map { "\($0)" }), ("wyoming", "enabled", wyomingPort.map { _ in "true" }),
            ("server", "tls_cert", tlsCert), ("server", "tls_key", tlsKey), ("server", "tls", tls),
            ("server", "http_redirect_port", httpRedirectPort.map { "\($0)" }),
            ("security", "insecure_public", insecurePublic ? "true" : nil), ("security", "worker_token", workerToken),
        ] + modelManager.overrides, appending: [("security", "api_keys", apiKey)])
        LoggingSetup.bootstrap(level: config.logging.level, format: config.logging.format)
        let logger = Logger(label: "duplex.serve")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let timeout = Duration.milliseconds(config.orchestrator.workerTimeoutMs)
        var services: [any Service] = []
        let pool: WorkerPool
        if let (remote, remoteServices) = try WorkerPool.remote(config, logger: logger) {
            pool = remote
            services += remoteServices
        } else {
            let transport = InProcessTransport()
            let runtime = WorkerRuntime(configuration: config, logger: Logger(label: "duplex.worker"))
            services.append(WorkerServerService(transport: transport.server, runtime: runtime, logger: Logger(label: "duplex.worker")))
            let connection = WorkerConnection(transport: transport.client, address: "in-process", timeout: timeout)
            services.append(connection)
            pool = WorkerPool(connections: [connection])
        }
        // Conversation mode needs the VAD and Whisper; without them the server still speaks.
        // A broken end-of-turn model stops the start (naming `turn.model`) unless
        // `turn.on_model_error: fixed_silence` asks for a warning and fixed-silence turns. It
        // matters only where conversation mode can run at all (the speech models are installed):
        // a TTS-only server started elsewhere keeps starting with the warning below.
        let endOfTurn = FileManager.default.fileExists(atPath: config.vad.model)
            ? try SpeechServices.loadEndOfTurnModel(config) : (model: nil, warning: nil)
        _ = try SpeechServices.checkedInput(config.input)
        if let warning = endOfTurn.warning { logger.warning("end-of-turn model unavailable", metadata: ["error.message": "\(warning)"]) }
        var speech: SpeechServices?
        do {
            speech = try SpeechServices.load(config, endOfTurnModel: endOfTurn.model)
        } catch {
            logger.warning("conversation mode unavailable", metadata: ["error.message": "\(error.message)"])
        }
        if config.wyoming.enabled {
            services.append(WyomingServer(configuration: config, pool: pool, speech: speech, logger: Logger(label: "duplex.wyoming")))
        }
        let scheme = config.server.tls == .off ? "" : "s"
        let app = try await OrchestratorApp.make(
            configuration: config, pool: pool, registry: registry, logger: logger,
            services: services, speech: speech,
            onListening: { port in
                logger.notice("duplex serve listening", metadata: [
                    "url": "http\(scheme)://\(config.server.host):\(port)/", "ws": "ws\(scheme)://\(config.server.host):\(port)/ws",
                    "auth": "\(config.security.requiresAuthentication ? "api keys" : "off")",
                ])
            })
        try await app.runService()
    }
}
