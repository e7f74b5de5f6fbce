import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexLLM
import DuplexOrchestrator
import DuplexTesting
import Foundation
import Logging
import Testing

/// The `llm` responder against a local OpenAI-compatible server (a real process speaking
/// HTTP and server-sent events): streamed reply text, spoken as it arrives, and history
/// truncated to what the user heard when they interrupt.
@Suite(.serialized) struct ConversationLLMTests {
    @Test func llmRepliesStreamAndAnInterruptionTruncatesTheHistory() async throws {
        let speech = try SpeechInputTests.services.get()
        let asked = "Please book a table for two at seven tonight near the window and tell them we may be a little late."
        let question = try await SpeechInputTests.question(asked, rate: 16_000)
        let interruption = try await SpeechInputTests.question("Wait, stop, I changed my mind about that.", rate: 16_000, leadingMs: 200)
        try await withOpenAICompatibleServer(["--delay-ms", "80"]) { llm in
            var config = TestServer.configuration()
            config.conversation.responder = "llm"
            config.llm.baseURL = llm.baseURL
            config.llm.model = "duplex-test"
            config.llm.systemPrompt = "You are a test."
            try await TestServer.with(config, speech: speech) { server in
                try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                    try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000])
                    try await ConversationTests.stream(question, rate: 16_000, to: connection)
                    let transcript = try await connection.next(type: "transcript")
                    let heard = transcript.json?["text"] as? String ?? ""

                    // The reply streams in pieces, and speech starts before the text is complete.
                    var pieces: [String] = []
                    var framesBeforeFinalText = 0
                    var finalText: String?
                    var frames = 0
                    while finalText == nil || frames < 15 {
                        guard let message = try await connection.next() else { break }
                        if message.type == nil {
                            frames += 1
                            if finalText == nil { framesBeforeFinalText += 1 }
                        } else if message.type == "reply" {
                            if message.json?["final"] as? Bool == true {
                                finalText = message.json?["text"] as? String
                            } else {
                                pieces.append(message.json?["text"] as? String ?? "")
                            }
                        } else if message.type == "error" {
                            Issue.record("error: \(message.json ?? [:])")
                            return
                        }
                    }
                    let expected = "You said: \(heard). I have seen 1 user messages."
                    #expect(finalText == expected)
                    #expect(pieces.count > 5 && pieces.joined() == expected)
                    #expect(framesBeforeFinalText > 0, "speech should start before the LLM finishes")

                    // Interrupt it.
                    let talking = Task { try await ConversationTests.stream(interruption, rate: 16_000, to: connection) }
                    let bargeIn = try await connection.next(type: "barge_in")
                    let heardText = bargeIn.json?["heard_text"] as? String ?? ""
                    #expect(!heardText.isEmpty && heardText.count < expected.count)
                    let next = try await connection.next(type: "transcript")
                    let nextText = (next.json?["text"] as? String ?? "").lowercased()
                    #expect(nextText.contains("my mind"))  // Whisper hears "change" or "changed"
                    _ = try await connection.next(type: "tts_start")
                    try await talking.value

                    // The second request carries the history: the first reply only as far as it was heard.
                    let requests = try await llm.requests()
                    #expect(requests.count == 2)
                    if requests.count == 2 {
                        let messages = requests[1].messages
                        #expect(messages.map(\.role) == [.system, .user, .assistant, .user])
                        #expect(messages.count == 4 && messages[2].content == heardText)
                        #expect(requests[1].model == "duplex-test" && requests[1].stream == true)
                    }
                }
            }
        }
    }

    @Test func aClientThatLeavesClosesItsLLMRequestAndNoneStartsAfterIt() async throws {
        let speech = try SpeechInputTests.services.get()
        let question = try await SpeechInputTests.question("Tell me about the history of the harbor, please.", rate: 16_000)
        try await withOpenAICompatibleServer(["--delay-ms", "400"]) { llm in
            var config = TestServer.configuration()
            config.conversation.responder = "llm"
            config.llm.baseURL = llm.baseURL
            try await TestServer.with(config, speech: speech) { server in
                // 1. The client leaves as its turn ends (its transcription, or the LLM request,
                // may be under way): no request starts after it left, and any that started is closed.
                try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                    try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000])
                    try await ConversationTests.stream(question, rate: 16_000, to: connection)
                    while let message = try await connection.next(), message.type != "vad" || message.json?["state"] as? String != "speech_end" {}
                }
                let atDisconnect = try await llm.stats().requests
                try await Task.sleep(for: .seconds(2))
                let later = try await llm.stats()
                #expect(later.requests == atDisconnect, "an LLM request started after the client left")
                #expect(later.disconnects == later.requests && later.completed == 0)

                // 2. The client leaves mid-answer: the request is closed at once.
                let before = try await llm.stats()
                try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                    try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000])
                    try await ConversationTests.stream(question, rate: 16_000, to: connection)
                    _ = try await connection.next(type: "reply")
                }
                let left = ContinuousClock.now
                let stats = try await llm.waitForStats(timeout: .seconds(5)) { $0.disconnects > before.disconnects }
                let closedAfter = left.duration(to: .now)
                print("LLM request closed \(closedAfter) after the client left")
                #expect(stats.requests == before.requests + 1 && stats.completed == 0)
                #expect(closedAfter < .seconds(1))
                try await Task.sleep(for: .seconds(1))
                #expect(try await llm.stats().requests == before.requests + 1)
            }
        }
    }

    @Test func anUnreachableLLMIsATypedErrorAndTheSessionGoesOn() async throws {
        let speech = try SpeechInputTests.services.get()
        let question = try await SpeechInputTests.question("What is the weather like today?", rate: 16_000)
        var config = TestServer.configuration()
        config.conversation.responder = "llm"
        config.llm.baseURL = "http://127.0.0.1:\(try unusedLoopbackPort())/v1"
        try await TestServer.with(config, speech: speech) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000])
                try await ConversationTests.stream(question, rate: 16_000, to: connection)
                _ = try await connection.next(type: "transcript")
                let error = try await connection.next(type: "error")
                #expect(error.json?["code"] as? String == "RESPONDER_FAILED")
                // Typed text still works in the same session.
                let reply = try await connection.speak("Still here.")
                #expect(reply.reason == "completed" && !reply.pcm.isEmpty)
            }
        }
    }
}
