import AsyncHTTPClient
import DuplexLLM
import DuplexTesting
import Foundation
import Testing

/// The client against `tools/openai_compatible_server.py` running as a real process.
/// Serialized because several tests measure time.
@Suite("ChatCompletionsClient against the local OpenAI-compatible server", .serialized, .timeLimit(.minutes(1)))
struct ChatCompletionsClientTests {
    private func client(_ server: OpenAICompatibleServer, _ update: (inout ChatCompletionsConfiguration) -> Void = { _ in })
        throws -> ChatCompletionsClient
    {
        var configuration = ChatCompletionsConfiguration(baseURL: server.baseURL, model: "duplex-test-model")
        update(&configuration)
        return try ChatCompletionsClient(configuration: configuration)
    }

    /// Consumes `stream` and returns the deltas with their arrival times, or the error.
    private func collect(_ stream: ChatReplyStream) async -> (deltas: [(String, ContinuousClock.Instant)], error: DuplexLLMError?) {
        var deltas: [(String, ContinuousClock.Instant)] = []
        do {
            for try await delta in stream { deltas.append((delta, .now)) }
            return (deltas, nil)
        } catch {
            return (deltas, error)
        }
    }

    @Test("deltas arrive one by one as the server sends them", arguments: [[], ["--keepalive-comments"]])
    func streamsIncrementally(_ extraArguments: [String]) async throws {
        try await withOpenAICompatibleServer(["--delay-ms", "100"] + extraArguments) { server in
            let start = ContinuousClock.now
            let (deltas, error) = await collect(try client(server).streamReply(history: [.user("Hello there")]))
            #expect(error == nil)
            #expect(deltas.map(\.0).joined() == "You said: Hello there. I have seen 1 user messages.")
            #expect(deltas.count == 10)
            #expect(!deltas.contains { $0.0.isEmpty })
            // 10 deltas 100 ms apart: the first must arrive well before the last was sent.
            let first = try #require(deltas.first?.1), last = try #require(deltas.last?.1)
            #expect(last - first > .milliseconds(450), "spread \(last - first)")
            #expect(first - start < .seconds(10))  // sanity bound under the parallel suite
            let stats = try await server.stats()
            #expect(stats == .init(requests: 1, completed: 1, disconnects: 0))
        }
    }

    @Test("the request carries exactly the given history, the settings and the headers")
    func sendsHistory() async throws {
        try await withOpenAICompatibleServer(["--delay-ms", "1"]) { server in
            let client = try client(server) {
                $0.systemPrompt = "You are Duplex. Be brief."
                $0.temperature = 0.5
                $0.maxTokens = 64
            }
            let history: [ChatMessage] = [
                .user("What's the weather in Zürich?"),
                .assistant("It is sunny and"),  // cut off by a barge-in
                .user("Thanks, and \"tomorrow\"?\nReally 👀"),
            ]
            var reply = ""
            for try await delta in client.streamReply(history: history) { reply += delta }
            #expect(reply == "You said: Thanks, and \"tomorrow\"?\nReally 👀. I have seen 2 user messages.")

            // The connection is reused for a second reply.
            var second = ""
            for try await delta in client.streamReply(history: [.user("again")]) { second += delta }
            #expect(second == "You said: again. I have seen 1 user messages.")

            let requests = try await server.requests()
            try #require(requests.count == 2)
            #expect(requests[0].model == "duplex-test-model")
            #expect(requests[0].stream == true)
            #expect(requests[0].messages == [.system("You are Duplex. Be brief.")] + history)
            #expect(requests[0].temperature == 0.5)
            #expect(requests[0].max_tokens == 64)
            #expect(requests[1].messages == [.system("You are Duplex. Be brief."), .user("again")])

            let headers = try await server.headers()[0]
            #expect(headers["content-type"] == "application/json")
            #expect(headers["accept"] == "text/event-stream")
            #expect(headers["authorization"] == nil)
        }
    }

    @Test("the API key is sent as a bearer token")
    func sendsAPIKey() async throws {
        try await withOpenAICompatibleServer(["--require-key", "sk-test-123", "--delay-ms", "1"]) { server in
            let client = try client(server) { $0.apiKey = "sk-test-123" }
            var reply = ""
            for try await delta in client.streamReply(history: [.user("hi")]) { reply += delta }
            #expect(reply == "You said: hi. I have seen 1 user messages.")
            #expect(try await server.headers().first?["authorization"] == "Bearer sk-test-123")
        }
    }

    @Test("a wrong or missing API key gives llmHTTPStatus 401 with the server's message")
    func unauthorized() async throws {
        try await withOpenAICompatibleServer(["--require-key", "sk-test-123"]) { server in
            let wrong = await collect(try client(server) { $0.apiKey = "sk-wrong-key-0000" }.streamReply(history: [.user("hi")]))
            let error = try #require(wrong.error)
            #expect(error.code == .llmHTTPStatus)
            #expect(error.httpStatus == 401)
            #expect(error.message.contains("Incorrect API key provided"))
            #expect(error.message.contains("API key"))
            #expect(wrong.deltas.isEmpty)

            let missing = try #require(await collect(try client(server).streamReply(history: [.user("hi")])).error)
            #expect(missing.httpStatus == 401)
            #expect(missing.message.contains("You didn't provide an API key"))
        }
    }

    @Test("a server failure gives llmHTTPStatus 500 with the server's message")
    func serverError() async throws {
        try await withOpenAICompatibleServer { server in
            let error = try #require(await collect(try client(server).streamReply(history: [.user("please fail")])).error)
            #expect(error.code == .llmHTTPStatus)
            #expect(error.httpStatus == 500)
            #expect(error.message.contains("you asked it to fail"))
        }
    }

    @Test("a malformed chunk gives llmBadStream")
    func malformedChunk() async throws {
        try await withOpenAICompatibleServer { server in
            let error = try #require(await collect(try client(server).streamReply(history: [.user("please garble")])).error)
            #expect(error.code == .llmBadStream)
            #expect(error.message.contains("chat.completion.chunk"))
        }
    }

    @Test("a refused connection gives llmUnavailable at once with a fail-fast client")
    func connectionRefused() async throws {
        let configuration = ChatCompletionsConfiguration(baseURL: "http://127.0.0.1:\(try unusedLoopbackPort())/v1", model: "m")
        let start = ContinuousClock.now
        let result = try await ChatCompletionsClient.withClient(configuration: configuration) { client in
            await collect(client.streamReply(history: [.user("hi")]))
        }
        let error = try #require(result.error)
        #expect(error.code == .llmUnavailable)
        #expect(error.message.contains("Could not reach the LLM server"))
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test("a refused connection through the shared client ends at the first-token timeout")
    func connectionRefusedSharedClient() async throws {
        var configuration = ChatCompletionsConfiguration(baseURL: "http://127.0.0.1:\(try unusedLoopbackPort())/v1", model: "m")
        configuration.firstTokenTimeout = .milliseconds(500)
        let start = ContinuousClock.now
        let error = try #require(await collect(try ChatCompletionsClient(configuration: configuration).streamReply(history: [.user("hi")])).error)
        #expect([.llmTimeout, .llmUnavailable].contains(error.code))
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test("a stalled server hits the first-token timeout and the connection is closed")
    func firstTokenTimeout() async throws {
        try await withOpenAICompatibleServer { server in
            let client = try client(server) { $0.firstTokenTimeout = .milliseconds(600) }
            let start = ContinuousClock.now
            let result = await collect(client.streamReply(history: [.user("please stall")]))
            let elapsed = ContinuousClock.now - start
            let error = try #require(result.error)
            #expect(error.code == .llmTimeout)
            #expect(error.message.contains("first-token timeout"))
            #expect(elapsed >= .milliseconds(500) && elapsed < .seconds(10), "took \(elapsed)")
            #expect(try await server.waitForStats { $0.disconnects == 1 }.disconnects == 1)
        }
    }

    @Test("a reply that takes too long hits the request timeout")
    func requestTimeout() async throws {
        try await withOpenAICompatibleServer(["--delay-ms", "100"]) { server in
            let client = try client(server) { $0.requestTimeout = .milliseconds(700) }
            let start = ContinuousClock.now
            let result = await collect(client.streamReply(history: [.user("please ramble")]))
            let elapsed = ContinuousClock.now - start
            let error = try #require(result.error)
            #expect(error.code == .llmTimeout)
            #expect(error.message.contains("request timeout"))
            #expect(!result.deltas.isEmpty)
            #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(10), "took \(elapsed)")
            #expect(try await server.waitForStats { $0.disconnects == 1 }.disconnects == 1)
        }
    }

    @Test("cancelling the consumer stops the stream promptly and closes the connection",
          arguments: ["please ramble", "please stall"])
    func cancellation(_ message: String) async throws {
        try await withOpenAICompatibleServer(["--delay-ms", "50"]) { server in
            let client = try client(server)
            let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
            let outcome = try await withThrowingTaskGroup(of: (Int, DuplexLLMError?, ContinuousClock.Instant).self) { group in
                group.addTask {
                    var count = 0
                    do throws(DuplexLLMError) {
                        for try await _ in client.streamReply(history: [.user(message)]) {
                            count += 1
                            startedContinuation.yield()
                        }
                        return (count, nil, .now)
                    } catch {
                        return (count, error, .now)
                    }
                }
                // Wait for the first delta, or for the stalled request to be under way.
                if message == "please stall" {
                    _ = try await server.waitForStats { $0.requests == 1 }
                    try await Task.sleep(for: .milliseconds(200))
                } else {
                    var iterator = started.makeAsyncIterator()
                    _ = await iterator.next()
                }
                let cancelledAt = ContinuousClock.now
                group.cancelAll()
                let (count, error, endedAt) = try #require(try await group.next())
                return (count, error, endedAt - cancelledAt)
            }
            #expect(outcome.1?.code == .llmCancelled)
            #expect(outcome.2 < .seconds(3), "the stream ended \(outcome.2) after cancellation")
            if message == "please ramble" { #expect(outcome.0 >= 1 && outcome.0 < 100) }
            let stats = try await server.waitForStats { $0.disconnects == 1 }
            #expect(stats.disconnects == 1)
            #expect(stats.completed == 0)
        }
    }

    @Test("leaving the loop early closes the connection")
    func breakingOut() async throws {
        try await withOpenAICompatibleServer(["--delay-ms", "20"]) { server in
            var received: [String] = []
            for try await delta in try client(server).streamReply(history: [.user("please ramble")]) {
                received.append(delta)
                if received.count == 3 { break }
            }
            #expect(received == ["word1 ", "word2 ", "word3 "])
            let stats = try await server.waitForStats { $0.disconnects == 1 }
            #expect(stats.disconnects == 1)
            #expect(stats.completed == 0)
        }
    }

    @Test("a reply can be consumed on an actor")
    func consumedOnActor() async throws {
        actor Collector {
            var text = ""
            func consume(_ stream: ChatReplyStream) async throws(DuplexLLMError) {
                for try await delta in stream { text += delta }
            }
        }
        try await withOpenAICompatibleServer(["--delay-ms", "1"]) { server in
            let collector = Collector()
            try await collector.consume(try client(server).streamReply(history: [.user("hi"), .assistant("hello"), .user("bye")]))
            #expect(await collector.text == "You said: bye. I have seen 2 user messages.")
        }
    }
}
