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
        do {
            client = try ChatCompletionsClient(configuration: configuration, httpClient: Self.httpClient)
        } catch {
            throw DuplexError(.invalidConfiguration, "llm: \(error.message)")
        }
    }

    /// Streams the reply's content deltas; errors become ``DuplexError`` (`responderFailed`).
    public func reply(to history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error> {
        let messages = history.map { ChatMessage(role: $0.role == .user ? .user : .assistant, content: $0.text) }
        let stream = client.streamReply(history: messages)
        let (output, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let task = Task {
            do {
                for try await delta in stream { continuation.yield(delta) }
                continuation.finish()
            } catch let error as DuplexLLMError where error.code != .llmCancelled {
                continuation.finish(throwing: DuplexError(.responderFailed, "The LLM did not answer: \(error.message)", cause: error))
            } catch {
                continuation.finish(throwing: CancellationError())
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return output
    }
}
