import AsyncHTTPClient
import DuplexConfig
import DuplexCore
import DuplexLLM
import Foundation

/// Answers with an OpenAI-compatible chat completions endpoint, streaming the reply's
/// tokens as the server sends them (server-sent events), so that speech starts with the
/// first clause rather than the whole answer.
public struct LLMResponder: Responder {
    private let client: ChatCompletionsClient
    private let configuration: ChatCompletionsConfiguration

    /// One HTTP client for the process: connection refused fails at once (no connect
    /// retries), and it is never shut down, so no request outlives it.
    private static let httpClient = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: ChatCompletionsClient.httpClientConfiguration(connectTimeout: .seconds(3)))

    /// Creates the responder from the `llm:` settings; the API key is read from the
    /// environment variable `llm.api_key_env`.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`).
    public init(_ settings: LLMSection) throws(DuplexError) {
        let timeout = Duration.milliseconds(settings.timeoutMs)
        let configuration = ChatCompletionsConfiguration(
            baseURL: settings.baseURL, model: settings.model,
            apiKey: settings.apiKeyEnv.isEmpty ? nil : ChatCompletionsConfiguration.apiKey(fromEnvironment: settings.apiKeyEnv),
            systemPrompt: settings.systemPrompt, temperature: settings.temperature, maxTokens: settings.maxTokens,
            requestTimeout: timeout, firstTokenTimeout: min(timeout, .seconds(10)))
        self.configuration = configuration
        do {
            client = try ChatCompletionsClient(configuration: configuration, httpClient: Self.httpClient)
        } catch {
            throw DuplexError(.invalidConfiguration, "llm: \(error.message)", cause: error)
        }
    }

    /// Streams the reply's content deltas; errors become ``DuplexError`` (`responderFailed`).
    /// The request runs in the consuming task (no task of its own): cancelling the consumer
    /// closes the HTTP request.
    public func reply(to history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error> {
        Self.stream(client, history)
    }

    /// The reply with the session's instructions as the system prompt (replacing `llm.system_prompt`).
    public func reply(to history: [HistoryMessage], instructions: String) -> AsyncThrowingStream<String, any Error> {
        var configuration = configuration
        configuration.systemPrompt = instructions.isEmpty ? nil : instructions
        guard let client = try? ChatCompletionsClient(configuration: configuration, httpClient: Self.httpClient) else {
            return Self.stream(self.client, history)
        }
        return Self.stream(client, history)
    }

    /// An LLM follows a system prompt.
    public var followsInstructions: Bool { true }

    private static func stream(_ client: ChatCompletionsClient, _ history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error> {
        let messages = history.map { ChatMessage(role: $0.role == .user ? .user : .assistant, content: $0.text) }
        let deltas = DeltaIterator(client.streamReply(history: messages).makeAsyncIterator())
        return AsyncThrowingStream(unfolding: { try await deltas.next() })
    }
}

/// The chat stream's iterator, advanced by the one task consuming the reply (an
/// `AsyncThrowingStream(unfolding:)` calls its closure from its consumer only, one call at a
/// time), so the unchecked Sendable conformance is safe.
private final class DeltaIterator: @unchecked Sendable {
    private var iterator: ChatReplyStream.AsyncIterator

    init(_ iterator: ChatReplyStream.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> String? {
        do {
            return try await iterator.next()
        } catch where error.code != .llmCancelled {
            throw DuplexError(.responderFailed, "The LLM did not answer: \(error.message)", cause: error)
        } catch {
            throw CancellationError()
        }
    }
}
