import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexDSP
import DuplexOrchestrator
import DuplexTesting
import Foundation
import Logging
import Testing

/// Conversation mode over a real WebSocket with real models: microphone audio in (streamed in
/// real time), Silero VAD, Whisper, echo reply, barge-in.
@Suite(.serialized) struct ConversationTests {
    /// Streams PCM at real-time pace in 20 ms chunks.
    static func stream(_ pcm: Data, rate: Int, to connection: DuplexConnection) async throws {
        let chunk = rate / 50 * 2
        let start = ContinuousClock.now
        var offset = 0
        var index = 0
        while offset < pcm.count {
            let end = min(pcm.count, offset + chunk)
            try await connection.send(binary: pcm.subdata(in: offset..<end))
            offset = end
            index += 1
            try await Task.sleep(until: start + .milliseconds(20 * index), clock: .continuous)
        }
    }

    static func silence(ms: Int, rate: Int = 16_000) -> Data { Data(count: rate * ms / 1000 * 2) }

    /// The loudest `ms` of 16 kHz s16le speech.
    static func loudest(_ pcm: Data, ms: Int) -> Data {
        let samples = pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let length = 16 * ms
        var best = 0
        var bestEnergy = -1.0
        for start in stride(from: 0, to: max(1, samples.count - length), by: 160) {
            let energy = samples[start..<min(samples.count, start + length)].reduce(0.0) { $0 + Double($1) * Double($1) }
            if energy > bestEnergy { (best, bestEnergy) = (start, energy) }
        }
        return samples[best..<min(samples.count, best + length)].withUnsafeBytes { Data($0) }
    }

    @Test func aSpokenQuestionIsHeardAndEchoedThenABargeInStopsTheReply() async throws {
        let speech = try SpeechInputTests.services.get()
        let asked = "Please book a table for two at seven tonight near the window and tell them we may be a little late."
        let question = try await SpeechInputTests.question(asked, rate: 16_000)
        let interruption = try await SpeechInputTests.question("Wait, stop, I changed my mind about that.", rate: 16_000, leadingMs: 200)
        try await TestServer.with(TestServer.configuration(), speech: speech) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                let started = try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000])
                #expect(started.json?["mode"] as? String == "conversation")

                try await Self.stream(question, rate: 16_000, to: connection)
                let speechStart = try await connection.next(type: "vad")
                #expect(speechStart.json?["state"] as? String == "speech_start")
                let speechEnd = try await connection.next(type: "vad")
                #expect(speechEnd.json?["state"] as? String == "speech_end")
                let transcript = try await connection.next(type: "transcript")
                let heard = transcript.json?["text"] as? String ?? ""
                print("conversation heard: \(heard)")
                #expect(wordErrorRate(reference: asked, hypothesis: TextNormalizer().normalize(heard)) <= 0.2)
                // `reply` (the text) and `tts_start` (playback) come in either order.
                var replyText: String?
                var playing = false
                while replyText == nil || !playing {
                    guard let message = try await connection.next() else { break }
                    if message.type == "reply" { replyText = message.json?["text"] as? String }
                    if message.type == "tts_start" { playing = true }
                }
                #expect(replyText == heard)

                // Let the echo play a little, then talk over it.
                var frames = 0
                while frames < 15 {
                    guard let message = try await connection.next() else { break }
                    if message.type == nil { frames += 1 }
                }
                let interruptSent = ContinuousClock.now
                let talking = Task { try await Self.stream(interruption, rate: 16_000, to: connection) }
                var bargeIn: IncomingMessage?
                var lastFrameAt: ContinuousClock.Instant?
                var ended: String?
                var seen: [String] = []
                defer { if ended == nil || bargeIn == nil { print("events after the interruption: \(seen)") } }
                while bargeIn == nil || ended == nil {
                    guard let message = try await connection.next() else { break }
                    if let type = message.type { seen.append(type == "vad" ? "vad:\(message.json?["state"] ?? "")" : type) }
                    switch message.type {
                    case nil: if bargeIn == nil { lastFrameAt = message.receivedAt }
                    case "barge_in": bargeIn = message
                    case "tts_end": ended = message.json?["reason"] as? String
                    default: break
                    }
                    if ended != nil, bargeIn == nil {
                        Issue.record("the reply ended (\(ended ?? "")) before the interruption was detected")
                        break
                    }
                }
                try await talking.value
                #expect(ended == "stopped")
                let heardMs = bargeIn?.json?["heard_ms"] as? Int ?? -1
                #expect(heardMs >= 300)
                // The server measures edge → last frame; the budget is 50 ms (generous bound here).
                let latencyMs = bargeIn?.json?["latency_ms"] as? Int ?? -1
                #expect(latencyMs >= 0 && latencyMs < 1000)  // a sanity bound under the parallel suite; the bench: 0 ms
                // The history keeps what was heard: a beginning of the reply, cut.
                let heardText = bargeIn?.json?["heard_text"] as? String ?? ""
                #expect(!heardText.isEmpty && heardText.count < heard.count)
                #expect(heard.hasPrefix(heardText.replacingOccurrences(of: "…", with: "")))
                // Audio stops soon after the speech begins (200 ms of silence lead the clip).
                if let lastFrameAt {
                    let afterOnset = interruptSent.duration(to: lastFrameAt) - .milliseconds(200)
                    print("last reply frame \(afterOnset) after the interruption's speech onset; server edge → last frame \(latencyMs) ms; heard '\(heardText)'")
                    #expect(afterOnset < .milliseconds(2000))  // sanity bound under load; the bench: ~100–130 ms
                }
                // The interruption is a new turn: heard and answered.
                let next = try await connection.next(type: "transcript")
                let nextText = (next.json?["text"] as? String ?? "").lowercased()
                #expect(nextText.contains("my mind"))  // Whisper hears "change" or "changed"
                _ = try await connection.next(type: "tts_start")
            }
        }
    }

    /// 150 ms (the issue's noise burst) and 200 ms cut out of real speech: too short to interrupt.
    /// Piper's "Hey!" differs run to run, so whether the barge-in detector fires on a cut is
    /// checked first on the same input stream (the detector is deterministic): for 200 ms a cut
    /// that does fire is chosen, and the reply must pause and resume; 150 ms may pause it or
    /// not. Either way the reply is never stopped and plays byte for byte.
    @Test(arguments: [150, 200])
    func aShortSoundNeverStopsTheReplyNothingLostOrRepeated(ms: Int) async throws {
        let speech = try SpeechInputTests.services.get()
        var voiced = Data()
        var firesEdge = false
        for _ in 0..<6 where !firesEdge {
            let word = try await SpeechInputTests.question("Hey!", rate: 16_000, leadingMs: 0)
            voiced = Self.loudest(word, ms: ms)
            let probe = try SpeechInput(inputSampleRate: 16_000, services: speech, burstAllowance: .seconds(3600))
            let events = try await probe.accept(Self.silence(ms: 200) + voiced + Self.silence(ms: 800))
            firesEdge = events.contains { if case .bargeInEdge = $0 { true } else { false } }
            if ms < 200 { break }
        }
        if ms >= 200 { try #require(firesEdge, "no 200 ms cut of Piper's \"Hey!\" reached the barge-in detector") }
        let (sound, expectPause) = (voiced, firesEdge)
        try await TestServer.with(TestServer.configuration(), speech: speech) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                // The sine voice is deterministic, so two replies can be compared byte for byte.
                try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000, "model_id": "sine-440"])
                let text = "This reply must play to the end without a gap, whatever short sound the microphone picks up."
                let reference = try await connection.speak(text)
                #expect(reference.reason == "completed")
                // Same reply again, with the short sound from the microphone in the middle.
                try await connection.send(json: ["type": "text", "text": text, "is_final": true])
                let noisy = Task {
                    try await Task.sleep(for: .milliseconds(500))
                    try await Self.stream(Self.silence(ms: 200) + sound + Self.silence(ms: 800), rate: 16_000, to: connection)
                }
                let again = try await connection.collectReply(sentAt: .now)
                try await noisy.value
                #expect(again.reason == "completed")
                let resumed = again.events.first { $0.type == "barge_in_resumed" }
                print("\(ms) ms of speech over the reply: \(resumed == nil ? "no pause" : "paused and resumed")")
                if expectPause { #expect(resumed != nil, "no barge_in_resumed in \(again.events.compactMap(\.type))") }
                #expect(!again.events.contains { $0.type == "barge_in" })
                // Nothing lost, nothing repeated (compared as a Bool: a diff of 100 KB is slow).
                let identical = again.pcm == reference.pcm
                #expect(identical, "reply \(again.pcm.count) bytes vs reference \(reference.pcm.count), errors \(again.errors)")
            }
        }
    }

    @Test func aBackchannelOverTheReplyWaitsForItsTranscriptThenResumes() async throws {
        let speech = try SpeechInputTests.services.get()
        // Spoken slowly (~0.6 s): clearly longer than a cough, shorter than `backchannel_max_ms`.
        let okay = try await SpeechInputTests.question("Okay.", rate: 16_000, leadingMs: 0, speed: 0.6)
        let bounds = try #require(SimulatedMicrophone.speechBounds(okay.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }))
        print("backchannel speech: \((bounds.end - bounds.start) / 16) ms")
        try await TestServer.with(TestServer.configuration(), speech: speech) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                try await connection.startSession(["mode": "conversation", "input_sample_rate": 16_000, "model_id": "sine-440"])
                let text = "This reply must play to the end without a gap, even when the listener says okay in the middle of it."
                let reference = try await connection.speak(text)
                try await connection.send(json: ["type": "text", "text": text, "is_final": true])
                let talking = Task {
                    try await Task.sleep(for: .milliseconds(400))
                    try await Self.stream(Self.silence(ms: 200) + okay, rate: 16_000, to: connection)
                }
                let again = try await connection.collectReply(sentAt: .now)
                try await talking.value
                #expect(again.reason == "completed")
                #expect(!again.events.contains { $0.type == "barge_in" })
                let resumed = again.events.first { $0.type == "barge_in_resumed" }
                #expect(resumed != nil, "no barge_in_resumed in \(again.events.compactMap(\.type))")
                // It waited for the end of the turn (500 ms of silence) and the transcript.
                let pausedMs = resumed?.json?["paused_ms"] as? Int ?? 0
                print("backchannel paused the reply for \(pausedMs) ms")
                #expect(pausedMs >= 500)
                #expect(bounds.end - bounds.start >= 16 * 450 && bounds.end - bounds.start <= 16 * 750, "the clip is not a 0.45–0.75 s word")
                let identical = again.pcm == reference.pcm
                #expect(identical, "reply \(again.pcm.count) bytes vs reference \(reference.pcm.count)")
            }
        }
    }
}
