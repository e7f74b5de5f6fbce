import ArgumentParser
import DuplexClient
import DuplexCore
import DuplexDSP
import Foundation
import Logging

struct BenchConversation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversation",
        abstract: "Speech-to-speech and barge-in latency over scripted spoken turns (conversation mode).",
        discussion: """
            Questions and interruptions are synthesized by the server itself (TTS mode), then
            streamed as a real-time microphone. Each turn: a question; its reply is interrupted
            after --interrupt-after-ms of playback; the interruption is answered in full.
            Speech-to-speech = end of the user's speech (as sent) → first reply frame received;
            barge-in = interruption speech onset (as sent) → last reply frame received, and the
            server's own figure from its barge-in edge to the last frame sent.
            """)

    @Option(help: "Server WebSocket URL.")
    var url = "ws://127.0.0.1:8080/ws"

    @Option(help: "Number of question turns (each also measures one barge-in).")
    var turns = 20

    @Option(help: "Playback of a reply before the interruption starts (ms).")
    var interruptAfterMs = 600

    @Flag(help: "Print every server event.")
    var verbose = false

    @Option(name: .customLong("clip"), help: ArgumentHelp(
        "Ask recorded questions instead of synthesized ones: WAV@START-END in seconds (repeatable), e.g. .deps/testdata/beckett.wav@0.2-1.4.",
        valueName: "wav@start-end"))
    var clips: [String] = []

    static let questions = [
        "What time does the library open tomorrow?", "Can you book a table for two at seven?",
        "How long does the train to the airport take?", "Please remind me to call my sister tonight.",
        "What is the weather going to be like this weekend?", "Where did I park the car this morning?",
        "Could you read me the latest headlines?", "How many meetings do I have on Friday?",
    ]
    static let interruptions = ["Wait, stop, I changed my mind.", "Hold on, actually never mind that.", "Sorry, let me ask something else."]

    struct Figures {
        var speechToSpeech: [Double] = []
        var serverSpeechToSpeech: [Double] = []
        var bargeInFromOnset: [Double] = []
        var serverBargeIn: [Double] = []
        var asr: [Double] = []
        var missed = 0
        /// End-of-turn decisions: silence waited, the model's probability, why.
        var endOfTurnSilence: [Double] = []
        var endOfTurnProbability: [Double] = []
        var endOfTurnReasons: [String: Int] = [:]
        /// Time between a turn's consecutive partial transcripts, and their count.
        var partialGaps: [Double] = []
        var partials = 0
        var lastPartialAt: ContinuousClock.Instant?

        /// Notes what a server message says about turn-taking.
        mutating func note(_ message: IncomingMessage) {
            guard let json = message.json else { return }
            if message.type == "transcript", json["final"] as? Bool == false {
                partials += 1
                if let last = lastPartialAt { partialGaps.append(last.duration(to: message.receivedAt).millisecondsDouble) }
                lastPartialAt = message.receivedAt
            } else if message.type == "vad", let eot = json["end_of_turn"] as? [String: Any] {
                lastPartialAt = nil
                if let silence = eot["silence_ms"] as? Int { endOfTurnSilence.append(Double(silence)) }
                if let probability = eot["probability"] as? Double { endOfTurnProbability.append(probability) }
                endOfTurnReasons[eot["reason"] as? String ?? "?", default: 0] += 1
            }
        }
    }

    func run() async throws {
        guard (1...1000).contains(turns) else { throw ValidationError("--turns must be 1–1000.") }
        let logger = Logger(label: "duplex.bench")
        print("duplex bench conversation  url=\(url) turns=\(turns) interrupt after \(interruptAfterMs) ms")
        let questions = clips.isEmpty ? try await Self.synthesize(Self.questions, url: url, logger: logger) : try clips.map(Self.recorded)
        let interruptions = try await Self.synthesize(Self.interruptions, url: url, logger: logger)
        let turns = self.turns, interruptAfter = interruptAfterMs / 20

        let trace = verbose
        let figures = try await DuplexConnection.connect(url: url, logger: logger) { connection in
            try await connection.startSession(["mode": "conversation", "input_sample_rate": SimulatedMicrophone.sampleRate, "partial_transcripts": true])
            connection.trace = trace
            let microphone = SimulatedMicrophone()
            return try await withThrowingTaskGroup(of: Figures?.self) { group in
                group.addTask {
                    try await microphone.run(on: connection)
                    return nil
                }
                var figures = Figures()
                for turn in 0..<turns {
                    let question = questions[turn % questions.count]
                    let interruption = interruptions[turn % interruptions.count]
                    // The question, answered; its reply interrupted after some playback.
                    let clip = microphone.play(question.samples)
                    let replyStart = try await Self.awaitReply(connection, figures: &figures)
                    if let end = clip.time(ofSample: question.speech.end), let replyStart {
                        figures.speechToSpeech.append(end.duration(to: replyStart).millisecondsDouble)
                    }
                    var frames = 1
                    var interruptClip: SimulatedMicrophone.Clip?
                    var lastFrame: ContinuousClock.Instant?
                    var bargedIn = false
                    while !bargedIn {
                        guard let message = try await connection.next() else { throw DuplexError(.workerUnavailable, "server closed") }
                        if message.binary != nil {
                            frames += 1
                            lastFrame = message.receivedAt
                            if frames == interruptAfter {
                                interruptClip = microphone.play(interruption.samples)
                                if trace { print("  → interruption (\(interruption.samples.count) samples) after \(frames) frames") }
                            }
                            continue
                        }
                        figures.note(message)
                        switch message.type {
                        case "barge_in":
                            bargedIn = true
                            if let onset = interruptClip?.time(ofSample: interruption.speech.start), let lastFrame {
                                figures.bargeInFromOnset.append(max(0, onset.duration(to: lastFrame).millisecondsDouble))
                            }
                            if let ms = message.json?["latency_ms"] as? Int { figures.serverBargeIn.append(Double(ms)) }
                        case "tts_end":
                            if trace { print("  reply ended after \(frames) frames") }
                            // The reply ended before the interruption stopped it.
                            figures.missed += 1
                            bargedIn = true
                        default: break
                        }
                    }
                    // The interruption is a turn of its own: answered in full.
                    let secondStart = try await Self.awaitReply(connection, figures: &figures)
                    if let interruptClip, let end = interruptClip.time(ofSample: interruption.speech.end), let secondStart {
                        figures.speechToSpeech.append(end.duration(to: secondStart).millisecondsDouble)
                    }
                    _ = try await connection.next(type: "tts_end")
                    try await Task.sleep(for: .milliseconds(300))
                    print("turn \(turn + 1)/\(turns): s2s \(figures.speechToSpeech.suffix(2).map { String(format: "%.0f", $0) }.joined(separator: ", ")) ms, barge-in \(figures.bargeInFromOnset.last.map { String(format: "%.0f", $0) } ?? "-") ms from onset / \(figures.serverBargeIn.last.map { String(format: "%.0f", $0) } ?? "-") ms from edge")
                }
                group.cancelAll()
                return figures
            }
        }
        print(String(repeating: "-", count: 96))
        func line(_ name: String, _ values: [Double]) {
            let sorted = values.sorted()
            print(String(format: "%-46@ n=%3d  p50 %7.1f  p95 %7.1f  max %7.1f ms", name as NSString, sorted.count, percentile(sorted, 0.5), percentile(sorted, 0.95), sorted.last ?? 0))
        }
        line("speech-to-speech (end of speech → 1st frame)", figures.speechToSpeech)
        line("  server-measured (turn_metrics)", figures.serverSpeechToSpeech)
        line("  ASR (Whisper decode)", figures.asr)
        line("barge-in (speech onset → last frame)", figures.bargeInFromOnset)
        line("  server: barge-in edge → last frame sent", figures.serverBargeIn)
        print("replies that ended before the interruption was detected: \(figures.missed)")
        line("end of turn: silence waited", figures.endOfTurnSilence)
        let probabilities = figures.endOfTurnProbability.sorted()
        if !probabilities.isEmpty {
            print(String(format: "end of turn: model probability at the decision  p50 %.2f  min %.2f", percentile(probabilities, 0.5), probabilities.first ?? 0))
        }
        print("end of turn: decided by \(figures.endOfTurnReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        line("partial transcripts: interval", figures.partialGaps)
        print("partial transcripts: \(figures.partials)")
    }

    /// Waits for the next reply's first audio frame; records the server's turn figures.
    static func awaitReply(_ connection: DuplexConnection, figures: inout Figures) async throws -> ContinuousClock.Instant? {
        var first: ContinuousClock.Instant?
        while first == nil {
            guard let message = try await connection.next() else { throw DuplexError(.workerUnavailable, "server closed") }
            if message.binary != nil { first = message.receivedAt }
            figures.note(message)
            if message.type == "transcript", let ms = message.json?["asr_ms"] as? Int { figures.asr.append(Double(ms)) }
            if message.type == "error" { print("error: \(message.json ?? [:])") }
        }
        // turn_metrics follows the first frame at once.
        while true {
            guard let message = try await connection.next() else { break }
            if message.type == "turn_metrics" {
                if let ms = message.json?["speech_to_speech_ms"] as? Int { figures.serverSpeechToSpeech.append(Double(ms)) }
                break
            }
            if message.type == "tts_end" || message.type == "barge_in" { break }
        }
        return first
    }

    struct Spoken: Sendable {
        var samples: [Int16]
        var speech: (start: Int, end: Int)
    }

    /// A recorded question: `WAV@START-END` (seconds), at 16 kHz with 300 ms of silence before.
    static func recorded(_ spec: String) throws -> Spoken {
        let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
        let range = parts.count == 2 ? parts[1].split(separator: "-").compactMap { Double($0) } : []
        guard parts.count == 2, range.count == 2, range[0] < range[1] else {
            throw ValidationError("--clip \(spec): expected WAV@START-END in seconds, e.g. beckett.wav@0.2-1.4")
        }
        let wav = try WAVFile.read(path: parts[0])
        let samples = try SimulatedMicrophone.resample(wav.samples, from: wav.sampleRate)
        let rate = Double(SimulatedMicrophone.sampleRate)
        let first = min(samples.count, Int(range[0] * rate)), last = min(samples.count, Int(range[1] * rate))
        let clip = [Int16](repeating: 0, count: 4800) + Array(samples[first..<last])
        guard let speech = SimulatedMicrophone.speechBounds(clip) else { throw ValidationError("--clip \(spec): no speech in that range") }
        return Spoken(samples: clip, speech: speech)
    }

    /// Speech for each text from the server's TTS, at 16 kHz, with 300 ms of silence before.
    static func synthesize(_ texts: [String], url: String, logger: Logger) async throws -> [Spoken] {
        try await DuplexConnection.connect(url: url, logger: logger) { connection in
            try await connection.startSession()
            var out: [Spoken] = []
            for text in texts {
                let reply = try await connection.speak(text)
                let samples = [Int16](repeating: 0, count: 4800) + (try SimulatedMicrophone.resample(reply.samples, from: OutputFormat.sampleRate))
                guard let speech = SimulatedMicrophone.speechBounds(samples) else { throw DuplexError(.internal, "no speech in '\(text)'") }
                out.append(Spoken(samples: samples, speech: speech))
            }
            return out
        }
    }
}
