import DuplexCore
import GRPCCore

/// A ``DuplexError`` thrown by a service handler becomes a gRPC status by itself: the gRPC
/// code is the closest standard one and the exact Duplex code travels in the
/// `duplex-error-code` trailing metadata (``WireErrors/codeKey``), so the client recovers it
/// with ``WireErrors/duplexError(_:worker:)``.
extension DuplexError: RPCErrorConvertible {
    /// The gRPC status code closest to the Duplex code.
    public var rpcErrorCode: RPCError.Code {
        switch code {
        case .unknownModel, .sessionNotFound: .notFound
        case .invalidMessage, .textTooLong, .invalidAudio, .messageTooLarge, .invalidConfiguration: .invalidArgument
        case .modelInUse, .invalidState: .failedPrecondition
        case .overloaded, .sessionLimit: .resourceExhausted
        case .workerUnavailable: .unavailable
        case .cancelled: .cancelled
        case .unauthorized: .unauthenticated
        case .forbidden: .permissionDenied
        default: .internalError
        }
    }

    /// The message.
    public var rpcErrorMessage: String { message }

    /// The Duplex code, under `duplex-error-code`.
    public var rpcErrorMetadata: Metadata {
        var metadata = Metadata()
        metadata.addString(code.rawValue, forKey: WireErrors.codeKey)
        return metadata
    }

    /// The underlying error.
    public var rpcErrorCause: (any Error)? { cause }
}

/// Converts gRPC failures seen by a worker client back into ``DuplexError``.
public enum WireErrors {
    /// Metadata key carrying the Duplex error code.
    public static let codeKey = "duplex-error-code"

    /// The Duplex error for any error thrown by a worker call.
    ///
    /// A status carrying `duplex-error-code` keeps that code. Otherwise the transport's view
    /// decides: a worker that cannot be reached (`unavailable`, `deadlineExceeded`, `aborted`)
    /// is `WORKER_UNAVAILABLE` (the caller may fail over), and so is one that refuses the
    /// caller's credentials (`unauthenticated`, `permissionDenied`); a cancelled call is `CANCELLED`; a
    /// worker that answered with a failure (`unknown`, `internal`, …) is `SYNTHESIS_FAILED`,
    /// a bug to report rather than an outage to route around.
    public static func duplexError(_ error: any Error, worker: String) -> DuplexError {
        if let error = error as? DuplexError { return error }
        if error is CancellationError { return DuplexError(.cancelled, "The call to worker \(worker) was cancelled.", cause: error) }
        guard let rpc = error as? RPCError else {
            return DuplexError(.internal, "The call to worker \(worker) failed: \(error)", cause: error)
        }
        if let wire = rpc.metadata[stringValues: codeKey].first(where: { _ in true }) {
            return DuplexError(DuplexError.Code(wire: wire), rpc.message, cause: rpc)
        }
        switch rpc.code {
        case .unavailable, .deadlineExceeded, .aborted:
            return DuplexError(.workerUnavailable, "Worker \(worker) is unavailable (\(rpc.code)): \(rpc.message). Retrying when it is back.", cause: rpc)
        case .cancelled:
            return DuplexError(.cancelled, "The call to worker \(worker) was cancelled: \(rpc.message)", cause: rpc)
        case .unauthenticated, .permissionDenied:
            // Not this caller's worker: route around it, and say which setting is wrong.
            return DuplexError(
                .workerUnavailable, "Worker \(worker) refused the call (\(rpc.code)): \(rpc.message) Check security.worker_token.", cause: rpc)
        case .notFound:
            return DuplexError(.unknownModel, rpc.message, cause: rpc)
        case .invalidArgument:
            return DuplexError(.invalidMessage, rpc.message, cause: rpc)
        case .resourceExhausted:
            return DuplexError(.overloaded, "Worker \(worker) is at capacity: \(rpc.message)", cause: rpc)
        default:
            return DuplexError(.synthesisFailed, "Worker \(worker) failed (\(rpc.code)): \(rpc.message)", cause: rpc)
        }
    }
}

/// Runs an RPC handler's `body` so that the RPC's cancellation (the client went away, the
/// deadline passed, the server is shutting down) cancels `body`'s task: gRPC signals it only
/// through the server context's cancellation handle, and a handler that does not listen keeps
/// running (and keeps what it holds) after its client is gone.
/// - Throws: `body`'s error, or `RPCError` `.cancelled` if the RPC was cancelled first.
public func withRPCCancellationAsTaskCancellation<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let cancelled = AsyncSignal()
    let outcome = await withRPCCancellationHandler {
        await withCancellation(on: cancelled) { () async -> Result<T, any Error> in
            do {
                return .success(try await body())
            } catch {
                return .failure(error)
            }
        }
    } onCancelRPC: {
        cancelled.fire()
    }
    guard let outcome else { throw RPCError(code: .cancelled, message: "The RPC was cancelled.") }
    return try outcome.get()
}
