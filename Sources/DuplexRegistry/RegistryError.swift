/// An error from the worker registry: what went wrong, an opaque code and the underlying cause.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's string form, e.g. `INVALID_CONFIGURATION`.
        public let rawValue: String
        /// Same as ``rawValue``.
        public var description: String { rawValue }

        /// A ``RegistryConfiguration`` value is out of range or the Redis URL is invalid.
        public static let invalidConfiguration = Code("INVALID_CONFIGURATION")
        /// A record or event could not be encoded or decoded.
        public static let invalidRecord = Code("INVALID_RECORD")

        private init(_ rawValue: String) { self.rawValue = rawValue }
    }

    /// What kind of error this is.
    public var code: Code
    /// What was wrong and what to do about it.
    public var message: String
    /// The underlying error, if any (e.g. a `RedisError` or a `DecodingError`).
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }
}
