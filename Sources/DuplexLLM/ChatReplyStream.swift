#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1

/// The content deltas of one streamed chat-completions reply; made by
/// ``ChatCompletionsClient/streamReply(history:)``.
///
/// Each iteration sends its own request when it first calls `next()`. The stream ends at the
/// server's `data: [DONE]` and throws only ``DuplexLLMError``. Role-only and empty deltas are
/// skipped, so every element is non-empty text.
public struct ChatReplyStream: AsyncSequence, Sendable {
    public typealias Element = String
    public typealias Failure = DuplexLLMError

    let client: ChatCompletionsClient
    let history: [ChatMessage]

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(client: client, history: history)
    }

    /// Reads the response as `next()` is called: the request is sent on the first call, and
    /// each call reads from the network only when the deltas of the last read are used up.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = String
        public typealias Failure = DuplexLLMError

        private enum Phase {
            case notStarted
            case streaming(ResponseBodyReader)
            /// `[DONE]` was seen; the rest of the body is read so the connection can be reused.
            case draining(ResponseBodyReader)
            case finished
        }

        private let client: ChatCompletionsClient
        private let history: [ChatMessage]
        private var phase = Phase.notStarted
        private var parser = SSEParser()
        private var pending: [String] = []
        private var pendingIndex = 0
        private var startedAt = ContinuousClock.now
        private var sawContent = false
        private var finishReason: String?

        init(client: ChatCompletionsClient, history: [ChatMessage]) {
            self.client = client
            self.history = history
        }

        private var configuration: ChatCompletionsConfiguration { client.configuration }

        /// The next content delta, or nil when the reply is complete.
        public mutating func next() async throws(DuplexLLMError) -> String? {
            do {
                return try await step()
            } catch {
                // Dropping the reader cancels the request and closes its connection.
                phase = .finished
                pending.removeAll()
                pendingIndex = 0
                throw error
            }
        }

        private mutating func step() async throws(DuplexLLMError) -> String? {
            while true {
                if case .finished = phase, pendingIndex == pending.count { return nil }
                if Task.isCancelled { throw cancelled() }
                if pendingIndex < pending.count {
                    defer { pendingIndex += 1 }
                    return pending[pendingIndex]
                }
                pending.removeAll(keepingCapacity: true)
                pendingIndex = 0

                switch phase {
                case .notStarted:
                    phase = .streaming(try await start())
                case .streaming(let reader):
                    if let buffer = try await read(reader, until: contentDeadline) {
                        var done = false
                        for event in try parser.feed(buffer.readableBytesView) {
                            done = try handle(event)
                            if done { break }
                        }
                        if done { phase = .draining(reader) }
                    } else {
                        var done = false
                        if let event = parser.finish() { done = try handle(event) }
                        guard done || finishReason != nil else {
                            throw DuplexLLMError(
                                .llmBadStream,
                                "The LLM server at \(configuration.chatCompletionsURL) ended the stream without `data: [DONE]` or a finish_reason; the reply may be cut off.")
                        }
                        phase = .finished
                        logFinished()
                    }
                case .draining(let reader):
                    // Bounded: a server that keeps the response open after [DONE] only costs
                    // its connection, not the caller's time.
                    let drainDeadline = Swift.min(requestDeadline, .now + .milliseconds(500))
                    while (try? await read(reader, until: drainDeadline)) != nil {}
                    phase = .finished
                    logFinished()
                case .finished:
                    return nil
                }
            }
        }

        // MARK: Request

        private mutating func start() async throws(DuplexLLMError) -> ResponseBodyReader {
            startedAt = .now
            let url = configuration.chatCompletionsURL
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Accept", value: "text/event-stream")
            if let apiKey = configuration.apiKey {
                request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
            }
            let body = ChatCompletionsRequestBody(
                model: configuration.model, messages: client.requestMessages(history: history), stream: true,
                temperature: configuration.temperature, maxTokens: configuration.maxTokens)
            do {
                request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
            } catch {
                throw DuplexLLMError(.llmBadStream, "Could not encode the chat-completions request.", cause: error)
            }
            client.logger.debug(
                "LLM request", metadata: ["llm.url": "\(url)", "llm.model": "\(configuration.model)", "llm.messages": "\(body.messages.count)"])

            let httpClient = client.httpClient
            let logger = client.logger
            let ahcDeadline = NIODeadline.now() + TimeAmount(configuration.requestTimeout)
            let outcome: RaceOutcome<HTTPClientResponse>
            do {
                outcome = try await race(until: contentDeadline) { [request] in
                    try await httpClient.execute(request, deadline: ahcDeadline, logger: logger)
                }
            } catch {
                if Task.isCancelled || error is CancellationError { throw cancelled() }
                if let error = error as? HTTPClientError, error == .deadlineExceeded { throw timeout() }
                throw DuplexLLMError(
                    .llmUnavailable,
                    "Could not reach the LLM server at \(url): \(error). Check that it is running and that the base URL is right.",
                    cause: error)
            }
            guard case .value(let response) = outcome else { throw timeout() }
            if Task.isCancelled { throw cancelled() }

            let reader = ResponseBodyReader(response.body)
            guard (200..<300).contains(response.status.code) else {
                throw try await statusError(response, reader: reader)
            }
            if let type = response.headers.first(name: "Content-Type"), !type.lowercased().contains("text/event-stream") {
                let text = try await readText(reader, limit: 2_000)
                throw DuplexLLMError(
                    .llmBadStream,
                    "The LLM server at \(url) answered \(type) instead of text/event-stream; it may not support \"stream\": true. Body: \(text)")
            }
            return reader
        }

        private func statusError(_ response: HTTPClientResponse, reader: ResponseBodyReader) async throws(DuplexLLMError) -> DuplexLLMError {
            let text = try await readText(reader, limit: 64 * 1024)
            var serverMessage = text.trimmedWhitespace()
            if let decoded = try? JSONDecoder().decode(OpenAIErrorBody.self, from: Data(text.utf8)), let message = decoded.error.message {
                serverMessage = message
            }
            if serverMessage.count > 1_000 { serverMessage = String(serverMessage.prefix(1_000)) + "…" }
            if serverMessage.isEmpty { serverMessage = "(no message)" }
            let hint: String
            switch response.status.code {
            case 401, 403: hint = " Check the API key (configured through an environment variable)."
            case 404: hint = " Check the base URL (it usually ends in /v1) and the model name."
            case 429: hint = " The server is rate limiting or out of quota; retry later."
            case 500...: hint = " The LLM server failed; see its logs."
            default: hint = ""
            }
            return DuplexLLMError(
                .llmHTTPStatus,
                "The LLM server at \(configuration.chatCompletionsURL) answered HTTP \(response.status.code) \(response.status.reasonPhrase): \(serverMessage).\(hint)",
                httpStatus: Int(response.status.code))
        }

        /// Up to `limit` bytes of the rest of the body as text (a shorter read is not an error).
        private func readText(_ reader: ResponseBodyReader, limit: Int) async throws(DuplexLLMError) -> String {
            var bytes: [UInt8] = []
            while bytes.count < limit, let buffer = try await read(reader, until: requestDeadline) {
                bytes.append(contentsOf: buffer.readableBytesView.prefix(limit - bytes.count))
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        // MARK: Reading

        private var requestDeadline: ContinuousClock.Instant { startedAt + configuration.requestTimeout }

        /// The first-token deadline until content arrived, then the request deadline.
        private var contentDeadline: ContinuousClock.Instant {
            sawContent ? requestDeadline : Swift.min(requestDeadline, startedAt + configuration.firstTokenTimeout)
        }

        private func read(_ reader: ResponseBodyReader, until deadline: ContinuousClock.Instant) async throws(DuplexLLMError) -> ByteBuffer? {
            let outcome: RaceOutcome<ByteBuffer?>
            do {
                outcome = try await race(until: deadline) { try await reader.next() }
            } catch {
                if Task.isCancelled || error is CancellationError { throw cancelled() }
                throw DuplexLLMError(
                    .llmUnavailable,
                    "The connection to the LLM server at \(configuration.chatCompletionsURL) failed while streaming the reply: \(error).",
                    cause: error)
            }
            // A cancelled body read may end the body instead of throwing.
            if Task.isCancelled { throw cancelled() }
            guard case .value(let buffer) = outcome else { throw timeout() }
            return buffer
        }

        /// Applies one event; returns true at `[DONE]`.
        private mutating func handle(_ event: ServerSentEvent) throws(DuplexLLMError) -> Bool {
            let data = event.data.trimmedWhitespace()
            if data == "[DONE]" { return true }
            if event.event == "error" {
                throw DuplexLLMError(.llmBadStream, "The LLM server reported an error while streaming: \(data.prefix(1_000))")
            }
            let chunk: ChatCompletionChunk
            do {
                chunk = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(data.utf8))
            } catch {
                throw DuplexLLMError(
                    .llmBadStream,
                    "The LLM server sent an event that is not a chat.completion.chunk JSON object: \(data.prefix(200))", cause: error)
            }
            if let error = chunk.error {
                throw DuplexLLMError(
                    .llmBadStream, "The LLM server reported an error while streaming: \(error.message ?? error.type ?? "(no message)")")
            }
            guard let choice = chunk.choices?.first(where: { ($0.index ?? 0) == 0 }) else { return false }  // e.g. a usage chunk
            if let content = choice.delta?.content, !content.isEmpty {
                if !sawContent {
                    sawContent = true
                    client.logger.debug("LLM first token", metadata: ["llm.first_token_ms": "\(milliseconds(since: startedAt))"])
                }
                pending.append(content)
            }
            if let reason = choice.finishReason { finishReason = reason }
            return false
        }

        // MARK: Errors and logging

        private func cancelled() -> DuplexLLMError {
            DuplexLLMError(.llmCancelled, "The LLM reply was cancelled.")
        }

        private func timeout() -> DuplexLLMError {
            let url = configuration.chatCompletionsURL
            if sawContent || startedAt + configuration.firstTokenTimeout >= requestDeadline {
                return DuplexLLMError(
                    .llmTimeout,
                    "The LLM reply from \(url) did not finish within the request timeout (\(configuration.requestTimeout)); raise it or lower max_tokens.")
            }
            return DuplexLLMError(
                .llmTimeout,
                "The LLM server at \(url) sent no reply text within the first-token timeout (\(configuration.firstTokenTimeout)); check that it is running, reachable and not overloaded.")
        }

        private func logFinished() {
            client.logger.debug(
                "LLM reply finished",
                metadata: ["llm.finish_reason": "\(finishReason ?? "none")", "llm.duration_ms": "\(milliseconds(since: startedAt))"])
        }

        private func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
            let elapsed = ContinuousClock.now - start
            return elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        }
    }
}
