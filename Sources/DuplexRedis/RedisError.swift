/// The one error type `DuplexRedis` throws.
///
/// Errors carry an opaque ``Code``, a message that says what was wrong and what to do, and an
/// optional underlying cause (for example the socket error behind a failed connect).
///
/// ```swift
/// do {
///     try await client.set("worker:1", "{}", expireMilliseconds: 5_000)
/// } catch where error.code == .timeout {
///     // the server did not answer within `commandTimeout`
/// }
/// ```
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `CONNECTION_FAILED`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No connection to the server could be opened (refused, unreachable, connect timeout).
        public static let connectionFailed = Code("CONNECTION_FAILED")
        /// The connection closed while the command was in flight; it may or may not have run.
        public static let connectionClosed = Code("CONNECTION_CLOSED")
        /// The server did not answer within the configured timeout.
        public static let timeout = Code("TIMEOUT")
        /// The server answered with an error reply (`-ERR ...`).
        public static let serverError = Code("SERVER_ERROR")
        /// The server rejected the credentials (`AUTH`).
        public static let authenticationFailed = Code("AUTHENTICATION_FAILED")
        /// The server sent bytes that are not valid RESP2, or a reply of an unexpected type.
        public static let protocolError = Code("PROTOCOL_ERROR")
        /// The client or subscriber was closed with `close()`.
        public static let closed = Code("CLOSED")
        /// The calling task was cancelled while waiting for a connection.
        public static let cancelled = Code("CANCELLED")
        /// The requested feature is not supported (e.g. TLS via `rediss://`).
        public static let unsupported = Code("UNSUPPORTED")
        /// The configuration (URL, timeouts, pool size) is invalid.
        public static let invalidConfiguration = Code("INVALID_CONFIGURATION")
    }

    /// What kind of error this is.
    public var code: Code
    /// What went wrong and, where possible, what to do about it. For ``Code/serverError`` this
    /// is the server's error line, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause {
            return "RedisError(\(code)): \(message) (cause: \(cause))"
        }
        return "RedisError(\(code)): \(message)"
    }
}

extension RedisError {
    /// Wraps any error into a ``RedisError``; a ``RedisError`` passes through unchanged.
    static func wrapping(_ error: any Error, as code: Code, _ message: String) -> RedisError {
        if let redisError = error as? RedisError { return redisError }
        return RedisError(code, message, cause: error)
    }

    static let clientClosed = RedisError(.closed, "The Redis client was closed; create a new one to send commands.")
}
