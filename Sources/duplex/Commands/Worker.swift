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

    @Option(help: "Require this shared token on every call (security.worker_token).")
    var workerToken: String?

    @Option(help: "PEM certificate chain: serve gRPC over TLS (worker.tls_cert).")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert (worker.tls_key).")
    var tlsKey: String?

    @Option(help: "PEM CA: require client certificates it signed, mutual TLS (worker.tls_client_ca).")
    var tlsClientCa: String?

    func run() async throws {
        let config = try options.load([
            ("worker", "adapters", adapter), ("worker", "host", host), ("worker", "port", port.map { "\($0)" }),
            ("worker", "name", name), ("worker", "default_model", defaultModel),
            ("registry", "redis_url", redis), ("registry", "advertise_address", advertise),
            ("security", "worker_token", workerToken), ("worker", "tls_cert", tlsCert), ("worker", "tls_key", tlsKey),
            ("worker", "tls_client_ca", tlsClientCa),
        ] + modelManager.overrides)
        LoggingSetup.bootstrap(level: config.logging.level, format: config.logging.format)
        let logger = Logger(label: "duplex.worker")
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        let runtime = WorkerRuntime(configuration: config, logger: logger)
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: config.worker.host, port: config.worker.port),
            transportSecurity: try WorkerAccess.transportSecurity(config.worker))
        let server = WorkerServerService(
            transport: transport, runtime: runtime, interceptors: WorkerAccess.interceptors(config), logger: logger)
        logger.notice("duplex worker starting", metadata: [
            "grpc": "grpc://\(config.worker.host):\(config.worker.port)", "adapters": "\(config.worker.adapters)",
            "tls": "\(config.worker.tlsCert.isEmpty ? "off" : config.worker.tlsClientCA.isEmpty ? "on" : "mutual")",
            "token": "\(config.security.workerToken.isEmpty ? "none" : "required")",
        ])
        var services: [any Service] = [server]
        if !config.registry.redisURL.isEmpty {
            let registrar = try WorkerRegistration.registrar(config, service: runtime.service, logger: logger)
            services.append(registrar)
            // Announce readiness as soon as the default model is loaded, not at the next heartbeat.
            let service = runtime.service
            // Unowned on purpose: it only waits for readiness (a bounded loop that ends once
            // the default model is loaded) and dies with the process.
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
