import DuplexConfig
import DuplexCore
import GRPCCore
import GRPCNIOTransportHTTP2

/// How the orchestrator and the CLI reach remote workers: plaintext or TLS (optionally with
/// a client certificate, for workers that require mutual TLS), and the shared token sent in
/// every call's metadata (docs/SECURITY.md).
///
/// ```swift
/// let link = WorkerLink(configuration)
/// let connection = try WorkerConnection(address: address, timeout: .seconds(5), link: link)
/// ```
public struct WorkerLink: Sendable, Hashable {
    /// The TLS side of the link.
    public struct TLS: Sendable, Hashable {
        /// PEM CA bundle the worker's certificate must chain to.
        public var caFile: String
        /// PEM client certificate chain (mutual TLS), or nil.
        public var certificateFile: String?
        /// PEM private key of ``certificateFile``.
        public var keyFile: String?

        /// Creates the TLS settings.
        public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// TLS settings, nil for plaintext.
    public var tls: TLS?
    /// The shared worker token (`security.worker_token`), nil for none.
    public var token: String?

    /// A plaintext link without a token (loopback or a trusted network).
    public static let plaintext = WorkerLink()

    /// Creates a link.
    public init(tls: TLS? = nil, token: String? = nil) {
        self.tls = tls
        self.token = token
    }

    /// The link configured by `orchestrator.tls_ca` / `tls_cert` / `tls_key` and
    /// `security.worker_token`.
    public init(_ configuration: DuplexConfiguration) {
        let orchestrator = configuration.orchestrator
        tls = orchestrator.tlsCA.isEmpty ? nil : TLS(
            caFile: orchestrator.tlsCA,
            certificateFile: orchestrator.tlsCert.isEmpty ? nil : orchestrator.tlsCert,
            keyFile: orchestrator.tlsKey.isEmpty ? nil : orchestrator.tlsKey)
        token = configuration.security.workerToken.isEmpty ? nil : configuration.security.workerToken
    }

    /// The transport security for HTTP2ClientTransport.
    var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        return .tls(.init(
            certificateChain: tls.certificateFile.map { [.file(path: $0, format: .pem)] } ?? [],
            privateKey: tls.keyFile.map { .file(path: $0, format: .pem) },
            serverCertificateVerification: .fullVerification,
            trustRoots: .certificates([.file(path: tls.caFile, format: .pem)])))
    }

    /// The interceptors every call goes through (the token, when there is one).
    var interceptors: [any ClientInterceptor] {
        token.map { [WorkerTokenClientInterceptor(token: $0)] } ?? []
    }
}

/// Adds `authorization: Bearer <token>` to every call to a worker.
struct WorkerTokenClientInterceptor: ClientInterceptor {
    let token: String

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingClientRequest<Input>, context: ClientContext,
        next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
    ) async throws -> StreamingClientResponse<Output> {
        var request = request
        request.metadata.replaceOrAddString("Bearer \(token)", forKey: "authorization")
        return try await next(request, context)
    }
}
