import DuplexConfig
import DuplexCore
import DuplexProto
import GRPCCore
import GRPCInProcessTransport
import GRPCNIOTransportHTTP2
import ServiceLifecycle

/// A gRPC client connection to one TTS worker (over HTTP/2, or in-process for the
/// embedded worker). The underlying client reconnects by itself when the worker comes
/// back; calls made while it is down fail fast with `WORKER_UNAVAILABLE`.
///
/// Run it as a `Service` (it owns the client's connection loop).
public final class WorkerConnection: Service, Sendable {
    /// Printable address (`grpc://host:port` or `in-process`).
    public let address: String
    /// The generated ABI client.
    public let tts: any Duplex_Tts_V1_TTSService.ClientProtocol
    private let runConnections: @Sendable () async throws -> Void
    private let stopConnections: @Sendable () -> Void
    /// Timeout for unary calls.
    public let timeout: Duration

    /// Connects to a worker over HTTP/2 with plaintext (loopback or a trusted network).
    public convenience init(address: WorkerAddress, timeout: Duration) throws {
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: address.host, port: address.port),
            transportSecurity: .plaintext,
            config: .defaults { $0.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2) })
        self.init(transport: transport, address: address.description, timeout: timeout)
    }

    /// Connects through any client transport (e.g. `InProcessTransport.client`).
    public init<Transport: ClientTransport>(transport: Transport, address: String, timeout: Duration) {
        let client = GRPCClient(transport: transport)
        self.tts = Duplex_Tts_V1_TTSService.Client(wrapping: client)
        self.runConnections = { try await client.runConnections() }
        self.stopConnections = { client.beginGracefulShutdown() }
        self.address = address
        self.timeout = timeout
    }

    /// Runs the connection until graceful shutdown.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await runConnections()
        } onGracefulShutdown: {
            self.stopConnections()
        }
    }

    /// Closes the connection.
    public func shutdown() {
        stopConnections()
    }

    /// Call options with the unary timeout.
    public var unaryOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return options
    }

    /// Runs a unary call, converting failures into ``DuplexError``.
    public func call<T: Sendable>(_ body: (any Duplex_Tts_V1_TTSService.ClientProtocol, CallOptions) async throws -> T) async throws(DuplexError) -> T {
        do {
            return try await body(tts, unaryOptions)
        } catch {
            throw WireErrors.duplexError(error, worker: address)
        }
    }
}
