import DuplexConfig
import DuplexCore
import GRPCCore
import GRPCNIOTransportHTTP2

/// Who may call a worker: the shared token (`security.worker_token`) checked on every call,
/// and TLS with optional client certificates on its port (`worker.tls_*`; docs/SECURITY.md).
public enum WorkerAccess {
    /// The server interceptors for `configuration` (none without a token).
    public static func interceptors(_ configuration: DuplexConfiguration) -> [any ServerInterceptor] {
        let token = configuration.security.workerToken
        return token.isEmpty ? [] : [WorkerTokenServerInterceptor(token: token)]
    }

    /// The gRPC port's transport security from `worker.tls_cert`, `tls_key`, `tls_client_ca`.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) when only one of cert and key is set,
    ///   or a client CA is set without them.
    public static func transportSecurity(_ worker: WorkerSection) throws(DuplexError) -> HTTP2ServerTransport.Posix.TransportSecurity {
        if worker.tlsCert.isEmpty && worker.tlsKey.isEmpty {
            guard worker.tlsClientCA.isEmpty else {
                throw DuplexError(.invalidConfiguration, "worker.tls_client_ca needs worker.tls_cert and worker.tls_key (mutual TLS is TLS first).")
            }
            return .plaintext
        }
        guard !worker.tlsCert.isEmpty, !worker.tlsKey.isEmpty else {
            throw DuplexError(.invalidConfiguration, "worker.tls_cert and worker.tls_key go together.")
        }
        return .tls(certificateChain: [.file(path: worker.tlsCert, format: .pem)], privateKey: .file(path: worker.tlsKey, format: .pem)) {
            if !worker.tlsClientCA.isEmpty {
                // Mutual TLS: a caller without a certificate from this CA fails the handshake.
                $0.clientCertificateVerification = .noHostnameVerification
                $0.trustRoots = .certificates([.file(path: worker.tlsClientCA, format: .pem)])
            }
        }
    }
}

/// Refuses calls without `authorization: Bearer <token>` with `UNAUTHENTICATED`.
struct WorkerTokenServerInterceptor: ServerInterceptor {
    private let expected: [UInt8]

    init(token: String) {
        expected = Array("Bearer \(token)".utf8)
    }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let presented = request.metadata[stringValues: "authorization"].first(where: { _ in true })
        guard let presented, Self.constantTimeEqual(Array(presented.utf8), expected) else {
            throw RPCError(
                code: .unauthenticated,
                message: presented == nil
                    ? "This worker requires the shared worker token (security.worker_token) as `authorization: Bearer <token>`."
                    : "The worker token is wrong (security.worker_token).")
        }
        return try await next(request, context)
    }

    /// Equal bytes, in time that depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
