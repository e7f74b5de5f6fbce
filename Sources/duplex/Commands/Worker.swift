import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexRegistry
import DuplexWorker
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a TTS worker serving the gRPC ABI (duplex.tts.v1).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var modelManager: ModelManagerOptions

    @Option(help: "Adapters to enable, comma-separated: piper, espeak, sine (worker.adapters).")
    var adapter: String?

    @Option(help: "gRPC bind address (worker.host).")
    var host: String?

    @Option(help: "gRPC port (worker.port).")
    var port: Int?

    @Option(help: "Worker name (worker.name).")
    var name: String?

    @Option(help: "Default model (worker.default_model).")
    var defaultModel: String?

    @Option(help: "Register in this Redis, redis://host:port (registry.redis_url).")
    var redis: String?

    @Option(help: "Address others reach this worker at, grpc://host:port (registry.advertise_address).")
    var advertise: String?

    func run() async throws {
        let config = try options.load([
            ("worker", "adapters", adapter), ("worker", "host", host), ("worker", "port", port.map { "\($0)" }),
            ("worker", "name", name), ("worker", "default_model", defaultModel),
            ("registry", "redis_url", redis), ("registry", "advertise_address", advertise),
        ] + modelManager.overrides)
        LoggingSetup.bootstrap(level: config.logging.level, format: config.logging.format)
        let logger = Logger(label: "duplex.worker")
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        let runtime = WorkerRuntime(configuration: config, logger: logger)
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: config.worker.host, port: config.worker.port), transportSecurity: .plaintext)
        let server = WorkerServerService(transport: transport, runtime: runtime, logger: logger)
        logger.notice("duplex worker starting", metadata: ["grpc": "grpc://\(config.worker.host):\(config.worker.port)", "adapters": "\(config.worker.adapters)"])
        var services: [any Service] = [server]
        if !config.registry.redisURL.isEmpty {
            let registrar = try WorkerRegistration.registrar(config, service: runtime.service, logger: logger)
            services.append(registrar)
            // Announce readiness as soon as the default model is loaded, not at the next heartbeat.
            let service = runtime.service
            Task {
                while !service.isReady { try await Task.sleep(for: .milliseconds(100)) }
                registrar.refreshNow()
            }
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
