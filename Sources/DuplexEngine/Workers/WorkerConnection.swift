import DuplexConfig
import DuplexCore
import DuplexProto
import GRPCCore
#if canImport(Glibc)
import Glibc
#endif
import GRPCInProcessTransport
import GRPCNIOTransportHTTP2
import ServiceLifecycle
import Synchronization

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
    /// Set once the connection is shut down: calls then fail at once (a gRPC client that no
    /// longer runs would otherwise hold them forever).
    private let stopped = Atomic<Bool>(false)

    /// Connects to a worker over HTTP/2: plaintext (loopback or a trusted network) or as
    /// `link` says (TLS, a client certificate, the shared worker token).
    public convenience init(address: WorkerAddress, timeout: Duration, link: WorkerLink = .plaintext) throws {
        let transport = try HTTP2ClientTransport.Posix(
            target: Self.target(address),
            transportSecurity: link.transportSecurity,
            config: .defaults {
                $0.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
                // Detect a worker host that vanished without closing the connection.
                $0.connection.keepalive = .init(time: .seconds(10), timeout: .seconds(5), allowWithoutCalls: true)
            })
        self.init(transport: transport, address: address.description, timeout: timeout, interceptors: link.interceptors)
    }

    /// An IP literal is connected to as such: a DNS target would put it in TLS's SNI, which
    /// may not carry addresses (the certificate is then checked against the IP instead).
    static func target(_ address: WorkerAddress) -> any ResolvableTarget {
        let host = address.host.hasPrefix("[") && address.host.hasSuffix("]") ? String(address.host.dropFirst().dropLast()) : address.host
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return .ipv4(address: host, port: address.port) }
        if inet_pton(AF_INET6, host, &v6) == 1 { return .ipv6(address: host, port: address.port) }
        return .dns(host: host, port: address.port)
    }

    /// Connects through any client transport (e.g. `InProcessTransport.client`).
    public init<Transport: ClientTransport>(
        transport: Transport, address: String, timeout: Duration, interceptors: [any ClientInterceptor] = []
    ) {
        let client = GRPCClient(transport: transport, interceptors: interceptors)
        self.tts = Duplex_Tts_V1_TTSService.Client(wrapping: client)
        self.runConnections = { try await client.runConnections() }
        self.stopConnections = { client.beginGracefulShutdown() }
        self.address = address
        self.timeout = timeout
    }

    /// Runs the connection until graceful shutdown.
    public func run() async throws {
        defer { stopped.store(true, ordering: .releasing) }
        try await withGracefulShutdownHandler {
            try await runConnections()
        } onGracefulShutdown: {
            self.stopped.store(true, ordering: .releasing)
            self.stopConnections()
        }
    }

    /// Closes the connection.
    public func shutdown() {
        stopped.store(true, ordering: .releasing)
        stopConnections()
    }

    /// Whether the connection was shut down.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Throws `workerUnavailable` if the connection was shut down.
    public func checkRunning() throws(DuplexError) {
        if isStopped {
            throw DuplexError(.workerUnavailable, "The connection to worker \(address) is shut down.")
        }
    }

    /// Call options with the unary timeout.
    public var unaryOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return options
    }

    /// Call options for the Synthesize stream: no overall timeout (a reply may be long), but
    /// no waiting for a worker that is down either — a realtime reply fails fast and the
    /// next one goes to a healthy worker.
    public var streamOptions: CallOptions {
        var options = CallOptions.defaults
        options.waitForReady = false
        return options
    }

    /// Runs a unary call, converting failures into ``DuplexError``. The call is bounded by
    /// ``timeout`` whatever state the connection is in.
    /// - Parameter timeout: overrides the unary timeout (e.g. for `LoadModel`).
    public func call<T: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (any Duplex_Tts_V1_TTSService.ClientProtocol, CallOptions) async throws -> T
    ) async throws(DuplexError) -> T {
        try checkRunning()
        let timeout = timeout ?? self.timeout
        var callOptions = unaryOptions
        callOptions.timeout = timeout
        let (tts, address, options) = (self.tts, self.address, callOptions)
        do {
            return try await withDeadline(timeout + .milliseconds(250)) {
                try await body(tts, options)
            } timeoutError: {
                DuplexError(.workerUnavailable, "Worker \(address) did not answer within \(timeout).")
            }
        } catch {
            throw WireErrors.duplexError(error, worker: address)
        }
    }
}
