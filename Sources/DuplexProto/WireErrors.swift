import DuplexCore
import GRPCCore

/// Converts between ``DuplexError`` and gRPC statuses at the worker ABI's edges.
///
/// The Duplex code travels in the `duplex-error-code` trailing metadata so a client can
/// recover the exact code; the gRPC status code is the closest standard one.
public enum WireErrors {
    /// Metadata key carrying the Duplex error code.
    public static let codeKey = "duplex-error-code"

    /// The gRPC error for a Duplex error.
    public static func rpcError(_ error: DuplexError) -> RPCError {
        let code: RPCError.Code =
            switch error.code {
            case .unknownModel, .sessionNotFound: .notFound
            case .invalidMessage, .textTooLong, .invalidAudio, .messageTooLarge, .invalidConfiguration: .invalidArgument
            case .modelInUse, .invalidState: .failedPrecondition
            case .overloaded, .sessionLimit: .resourceExhausted
            case .workerUnavailable: .unavailable
            default: .internalError
            }
        var metadata = Metadata()
        metadata.addString(error.code.rawValue, forKey: codeKey)
        return RPCError(code: code, message: error.message, metadata: metadata)
    }

    /// The Duplex error for any error thrown by a worker call.
    public static func duplexError(_ error: any Error, worker: String) -> DuplexError {
        if let error = error as? DuplexError { return error }
        guard let rpc = error as? RPCError else {
            if error is CancellationError { return DuplexError(.invalidState, "The worker call was cancelled.", cause: error) }
            return DuplexError(.workerUnavailable, "Worker \(worker) failed: \(error)", cause: error)
        }
        if let wire = rpc.metadata[stringValues: codeKey].first(where: { _ in true }) {
            return DuplexError(DuplexError.Code(wire: wire), rpc.message, cause: rpc)
        }
        switch rpc.code {
        case .unavailable, .deadlineExceeded, .cancelled, .aborted, .unknown:
            return DuplexError(.workerUnavailable, "Worker \(worker) is unavailable (\(rpc.code)): \(rpc.message). Retrying when it is back.", cause: rpc)
        case .notFound:
            return DuplexError(.unknownModel, rpc.message, cause: rpc)
        case .invalidArgument:
            return DuplexError(.invalidMessage, rpc.message, cause: rpc)
        default:
            return DuplexError(.synthesisFailed, "Worker \(worker) failed (\(rpc.code)): \(rpc.message)", cause: rpc)
        }
    }
}
