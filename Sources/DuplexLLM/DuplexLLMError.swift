/// The error the LLM client throws.
///
/// Like `DuplexError` it carries an opaque ``Code`` that the orchestrator converts into a
/// WebSocket `error` message, a message that says what was wrong and what to do, and an
/// optional underlying cause. ``httpStatus`` is set for ``Code/llmHTTPStatus``.
///
/// ```swift
/// do {
///     for try await delta in client.streamReply(history: history) { speak(delta) }
/// } catch {
///     if error.code == .llmTimeout { … }
/// }
/// ```
public struct DuplexLLMError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The wire form, e.g. `LLM_UNAVAILABLE`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The LLM server could not be reached (connection refused, DNS, TLS, connection lost).
        public static let llmUnavailable = Code("LLM_UNAVAILABLE")
        /// The LLM server answered with a non-2xx status; ``DuplexLLMError/httpStatus`` holds it.
        public static let llmHTTPStatus = Code("LLM_HTTP_STATUS")
        /// The response was not a valid OpenAI chat-completions event stream.
        public static let llmBadStream = Code("LLM_BAD_STREAM")
        /// The first token or the whole reply did not arrive in time.
        public static let llmTimeout = Code("LLM_TIMEOUT")
        /// The consuming task was cancelled (e.g. barge-in); not a failure of the server.
        public static let llmCancelled = Code("LLM_CANCELLED")
        /// The client configuration is invalid (e.g. a base URL that is not http or https).
        public static let llmInvalidConfiguration = Code("LLM_INVALID_CONFIGURATION")

        /// All known codes.
        public static let all: [Code] = [
            .llmUnavailable, .llmHTTPStatus, .llmBadStream, .llmTimeout, .llmCancelled, .llmInvalidConfiguration,
        ]
    }

    /// What kind of error this is.
    public var code: Code
    /// What went wrong and, where possible, what to do about it.
    public var message: String
    /// The HTTP status of the response, for ``Code/llmHTTPStatus``.
    public var httpStatus: Int?
    /// The underlying error, if any.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }
}
