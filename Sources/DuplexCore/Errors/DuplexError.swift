/// The one error type Duplex components throw.
///
/// Errors carry an opaque ``Code`` (converted at the edges into a WebSocket `error`
/// message, a gRPC status or an HTTP response), a message that says what was wrong and
/// what to do, and an optional underlying cause.
///
/// ```swift
/// throw DuplexError(.unknownModel, "No model 'x'. Run `duplex models list` to see the installed ones.")
/// ```
public struct DuplexError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The wire form, e.g. `UNKNOWN_MODEL`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A client message that is not valid JSON or not a known message.
        public static let invalidMessage = Code("INVALID_MESSAGE")
        /// Audio input that is not valid PCM for the declared format, or arrives too fast.
        public static let invalidAudio = Code("INVALID_AUDIO")
        /// The requested model is not in the catalog.
        public static let unknownModel = Code("UNKNOWN_MODEL")
        /// A text message or accumulated reply text over the configured limit.
        public static let textTooLong = Code("TEXT_TOO_LONG")
        /// A WebSocket message over the configured size limit.
        public static let messageTooLarge = Code("MESSAGE_TOO_LARGE")
        /// No worker can serve the request right now.
        public static let workerUnavailable = Code("WORKER_UNAVAILABLE")
        /// The worker failed while synthesizing.
        public static let synthesisFailed = Code("SYNTHESIS_FAILED")
        /// The server already runs its configured maximum of sessions.
        public static let sessionLimit = Code("SESSION_LIMIT")
        /// A referenced session does not exist.
        public static let sessionNotFound = Code("SESSION_NOT_FOUND")
        /// A model could not be loaded.
        public static let modelLoadFailed = Code("MODEL_LOAD_FAILED")
        /// The model is in use and cannot be unloaded.
        public static let modelInUse = Code("MODEL_IN_USE")
        /// A voice pack on disk is malformed.
        public static let invalidVoicePack = Code("INVALID_VOICE_PACK")
        /// A configuration value is missing or out of range.
        public static let invalidConfiguration = Code("INVALID_CONFIGURATION")
        /// The operation is not valid in the current state.
        public static let invalidState = Code("INVALID_STATE")
        /// A file could not be read or written.
        public static let io = Code("IO_ERROR")
        /// The worker's bounded inference queue is full.
        public static let overloaded = Code("OVERLOADED")
        /// An unexpected internal failure.
        public static let `internal` = Code("INTERNAL")
        /// The conversation's responder (e.g. the LLM endpoint) failed or is unreachable.
        public static let responderFailed = Code("RESPONDER_FAILED")
        /// The operation was cancelled (its session ended, or a newer request replaced it).
        public static let cancelled = Code("CANCELLED")
        /// The request carries no valid API key or access token.
        public static let unauthorized = Code("UNAUTHORIZED")
        /// The request is not allowed (e.g. from a browser origin the server does not trust).
        public static let forbidden = Code("FORBIDDEN")
        /// A per-key quota is used up (`quotas:`): sessions, messages per second, audio
        /// seconds or LLM tokens per minute. ``DuplexError/retryAfterMs`` says when to retry.
        public static let rateLimited = Code("RATE_LIMITED")

        /// All known codes, for mapping wire strings back to codes.
        public static let all: [Code] = [
            .invalidMessage, .invalidAudio, .unknownModel, .textTooLong, .messageTooLarge,
            .workerUnavailable, .synthesisFailed, .sessionLimit, .sessionNotFound,
            .modelLoadFailed, .modelInUse, .invalidVoicePack, .invalidConfiguration,
            .invalidState, .io, .overloaded, .internal, .responderFailed, .cancelled,
            .unauthorized, .forbidden, .rateLimited,
        ]

        /// Maps a wire string back to a code; unknown strings are kept as they are.
        public init(wire: String) {
            self = Code.all.first { $0.rawValue == wire } ?? Code(wire)
        }
    }

    /// What kind of error this is.
    public var code: Code
    /// What went wrong and, where possible, what to do about it.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?
    /// When a retry may succeed, in ms from now (``Code/rateLimited``); nil when unknown.
    public var retryAfterMs: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, retryAfterMs: Int? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
        self.retryAfterMs = retryAfterMs
    }

    /// `error` itself when it is a ``DuplexError``; otherwise a new error with `code` and
    /// `message` whose cause is `error` (task cancellation becomes `cancelled`).
    public static func wrap(_ error: any Error, as code: Code, _ message: String) -> DuplexError {
        if let error = error as? DuplexError { return error }
        if error is CancellationError { return DuplexError(.cancelled, "Cancelled.", cause: error) }
        return DuplexError(code, message, cause: error)
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }
}
