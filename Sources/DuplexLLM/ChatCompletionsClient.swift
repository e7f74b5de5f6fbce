import AsyncHTTPClient
import Logging
import NIOCore

/// A client for OpenAI-compatible streaming chat completions (`POST {baseURL}/chat/completions`
/// with `"stream": true`), the `llm` responder of conversation mode.
///
/// ```swift
/// let client = try ChatCompletionsClient(configuration: configuration)
/// do {
///     for try await delta in client.streamReply(history: [.user("What's the weather like?")]) {
///         segmenter.append(delta)
///     }
/// } catch {
///     // error is a DuplexLLMError; error.code is .llmTimeout, .llmHTTPStatus, …
/// }
/// ```
///
/// The reply is read as it streams, never buffered whole. Cancelling the task that iterates
/// the stream (e.g. on barge-in) cancels the HTTP request and closes its connection.
///
/// By default requests go through `HTTPClient.shared`, whose connection pool keeps retrying a
/// refused connection, so a server that is down shows up as ``DuplexLLMError/Code/llmTimeout``
/// after ``ChatCompletionsConfiguration/firstTokenTimeout``. To fail fast with
/// ``DuplexLLMError/Code/llmUnavailable`` instead, inject a client made with
/// ``httpClientConfiguration(connectTimeout:)`` or use ``withClient(configuration:logger:_:)``.
public struct ChatCompletionsClient: Sendable {
    /// Where and how requests are sent.
    public let configuration: ChatCompletionsConfiguration
    let httpClient: HTTPClient
    let logger: Logger

    /// Creates a client. Throws ``DuplexLLMError/Code/llmInvalidConfiguration`` when
    /// `configuration` is invalid. The caller owns `httpClient` and shuts it down (the shared
    /// client needs no shutdown).
    public init(
        configuration: ChatCompletionsConfiguration,
        httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "duplex.llm", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(DuplexLLMError) {
        try configuration.validate()
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    /// Streams the reply to `history` as content deltas, in order, as the server sends them.
    ///
    /// The request's messages are the configured system prompt (if any) followed by `history`
    /// exactly as given. Nothing is sent until iteration starts; each iteration sends a new
    /// request. Iteration ends normally at the server's `data: [DONE]`, and otherwise throws a
    /// ``DuplexLLMError``:
    /// - ``DuplexLLMError/Code/llmUnavailable``: the server could not be reached, or the
    ///   connection broke.
    /// - ``DuplexLLMError/Code/llmHTTPStatus``: a non-2xx answer; the message contains the
    ///   server's error message.
    /// - ``DuplexLLMError/Code/llmBadStream``: the body is not a valid chat-completions stream.
    /// - ``DuplexLLMError/Code/llmTimeout``: no content within the first-token timeout, or the
    ///   whole reply not within the request timeout.
    /// - ``DuplexLLMError/Code/llmCancelled``: the iterating task was cancelled.
    public func streamReply(history: [ChatMessage]) -> ChatReplyStream {
        ChatReplyStream(client: self, history: history)
    }

    /// The request messages for `history`: the system prompt (when set) and then `history`.
    public func requestMessages(history: [ChatMessage]) -> [ChatMessage] {
        guard let prompt = configuration.systemPrompt, !prompt.isEmpty else { return history }
        return [.system(prompt)] + history
    }

    /// An HTTP client configuration suited to a realtime LLM: the shared client's defaults,
    /// but a refused or failing connection fails the request at once instead of being retried,
    /// and connecting gives up after `connectTimeout`.
    public static func httpClientConfiguration(connectTimeout: Duration = .seconds(3)) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.timeout.connect = TimeAmount(connectTimeout)
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// Runs `body` with a client that owns a dedicated HTTP client made with
    /// ``httpClientConfiguration(connectTimeout:)`` (using the configuration's
    /// ``ChatCompletionsConfiguration/connectTimeout``), and shuts that HTTP client down when
    /// `body` returns or throws.
    public static func withClient<Result>(
        configuration: ChatCompletionsConfiguration,
        logger: Logger = Logger(label: "duplex.llm", factory: { _ in SwiftLogNoOpLogHandler() }),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (ChatCompletionsClient) async throws -> Result
    ) async throws -> Result {
        try configuration.validate()
        return try await HTTPClient.withHTTPClient(
            configuration: httpClientConfiguration(connectTimeout: configuration.connectTimeout),
            backgroundActivityLogger: logger,
            isolation: isolation
        ) { httpClient in
            try await body(ChatCompletionsClient(configuration: configuration, httpClient: httpClient, logger: logger))
        }
    }
}
