import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexSherpa
import DuplexTesting
import DuplexWorker
import DuplexWyoming
import Foundation
import GRPCInProcessTransport
import Logging
import ServiceLifecycle
import Testing

/// The Wyoming server driven by the `wyoming` package's own async TCP client (as Home
/// Assistant uses it): describe, synthesize, streaming synthesis, transcription of recorded
/// speech, and bad input, against the real engine, Piper and Whisper.
@Suite struct WyomingServerTests {
    @Test func theWyomingPythonClientSpeaksTranscribesAndSurvivesBadInput() async throws {
        let python = TestAssets.python
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/setup.sh (the venv has the wyoming package)")
        var config = TestServer.configuration()
        config.worker.adapters = ["piper", "espeak"]
        config.worker.defaultModel = ""  // the best installed voice: Piper
        config.worker.voicepacksDir = TestAssets.voicepacks
        config.worker.cacheDir = SpeechModels.cache
        config.wyoming.port = 0
        let speech = SpeechServices(
            vadModel: TestAssets.sileroVAD, vadParameters: .preset(aggressiveness: 2), recognizer: try SpeechModels.whisper.get())
        let probe = SessionProbe()

        let (run, reservations) = try await Self.withWyomingServer(config, speech: speech, probe: probe) { port, pool in
            let run = try await ProgramRun.run(python, [
                "\(TestAssets.repositoryRoot)/tools/wyoming_client_check.py", "--port", "\(port)", "--voice", "piper-en-us-joe",
                "--clip", TestAssets.clip("beckett"), "--long-clip", TestAssets.clip("two_cities"),
            ], timeout: .seconds(400))
            // Nothing left running: every engine session ended and released its worker.
            try await waitUntil("engine sessions ended and workers released", seconds: 30) {
                probe.activeTasks == 0 && pool.reservations.values.allSatisfy { $0 == 0 }
            }
            return (run, pool.reservations)
        }
        try #require(run.status == 0, "\(run.errors)")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "\(run.output)")
        print("wyoming client: \(run.output)")
        #expect(probe.activeTasks == 0)
        #expect(reservations.values.allSatisfy { $0 == 0 })

        // describe → info
        let voices = try #require(out["voices"] as? [String])
        #expect(voices.contains("piper-en-us-joe") && voices.contains("espeak-en-us"))
        #expect(out["supports_synthesize_streaming"] as? [Bool] == [true])
        #expect(out["asr_models"] as? [String] == ["whisper-tiny.en"])
        #expect(out["supports_transcript_streaming"] as? [Bool] == [true])
        #expect(out["pong"] as? [String] == ["pong", "hi"])

        // synthesize → audio-start, chunks, audio-stop: plausible, audible, understood.
        let synth = try #require(out["synth"] as? [String: Any])
        #expect(synth["first"] as? String == "audio-start" && synth["last"] as? String == "audio-stop")
        let start = try #require(synth["start"] as? [String: Any])
        #expect(start["rate"] as? Int == 48_000 && start["width"] as? Int == 2 && start["channels"] as? Int == 1)
        let seconds = try #require(synth["seconds"] as? Double)
        #expect(seconds > 3 && seconds < 12)  // 14 words
        #expect(try #require(synth["rms"] as? Double) > 0.02)
        let heard = try #require(out["synth_heard"] as? String)
        #expect(wordErrorRate(reference: "Hello there. The weather is nice today, and the morning train is on time.", hypothesis: heard) <= 0.35, "\(heard)")

        // Unknown voice: an error; the same connection goes on.
        #expect(out["unknown_voice"] as? [String] == ["error", "UNKNOWN_MODEL"])
        let after = try #require(out["after_unknown_voice"] as? [String: Any])
        #expect(after["types"] as? [String] == ["audio-start", "audio-stop"])
        #expect(try #require(after["seconds"] as? Double) > 0.3)
        let byLanguage = try #require(out["by_language"] as? [String: Any])
        #expect(try #require(byLanguage["seconds"] as? Double) > 0.3)
        #expect(out["bad_format"] as? [String] == ["error", "INVALID_AUDIO"])

        // Streaming synthesis: audio before the last chunk was sent, one audio stream, then synthesize-stopped.
        let stream = try #require(out["stream"] as? [String: Any])
        #expect(stream["first_audio_before_last_chunk"] as? Bool == true)
        #expect(stream["types"] as? [String] == ["audio-start", "audio-chunk", "audio-stop", "synthesize-stopped"])
        #expect(try #require(stream["seconds"] as? Double) > 4)  // all three chunks spoken
        #expect(out["empty_stream"] as? [String] == ["synthesize-stopped"])

        // Transcription of recorded speech, with the streaming events.
        let types = try #require(out["transcribe"] as? [String])
        #expect(types.first == "transcript-start" && Array(types.suffix(2)) == ["transcript-stop", "transcript"], "\(types)")
        #expect(types.count >= 4 && types.dropFirst().dropLast(2).allSatisfy { $0 == "transcript-chunk" }, "\(types)")
        let transcript = try #require(out["transcript"] as? String)
        #expect(transcript.split(separator: " ").count >= 10, "\(transcript)")
        let long = try #require(out["long_transcript"] as? String).lowercased()
        #expect(long.contains("best of times") && long.contains("worst of times"), "\(long)")
        #expect(long.split(separator: " ").count > 80)  // past Whisper's 30 s window
        let chunks = try #require(out["long_chunks"] as? [String])
        #expect(chunks.count >= 2)  // 44 s: a piece per pause, each within Whisper's 30 s window
        #expect(chunks.joined() == (out["long_transcript"] as? String))

        // Garbage and oversize: error, close; a bystander is unaffected. A vanished client leaves the server serving.
        let garbage = try #require(out["garbage"] as? [String: Any])
        #expect(garbage["type"] as? String == "error" && garbage["code"] as? String == "INVALID_MESSAGE" && garbage["closed"] as? Bool == true)
        let oversize = try #require(out["oversize"] as? [String: Any])
        #expect(oversize["type"] as? String == "error" && oversize["code"] as? String == "MESSAGE_TOO_LARGE" && oversize["closed"] as? Bool == true)
        #expect(out["bystander"] as? String == "info")
        let afterVanish = try #require(out["after_vanish"] as? [String: Any])
        #expect(afterVanish["types"] as? [String] == ["audio-start", "audio-stop"], "\(afterVanish)")
    }

    /// Runs the in-process worker, its pool and the Wyoming server (port 0) for `body`.
    static func withWyomingServer<T: Sendable>(
        _ config: DuplexConfiguration, speech: SpeechServices?, probe: SessionProbe,
        _ body: @escaping @Sendable (Int, WorkerPool) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "duplex.test.wyoming")
        logger.logLevel = .warning
        let transport = InProcessTransport()
        let runtime = WorkerRuntime(configuration: config, logger: logger)
        let connection = WorkerConnection(
            transport: transport.client, address: "in-process", timeout: .milliseconds(config.orchestrator.workerTimeoutMs))
        let pool = WorkerPool(connections: [connection])
        let port = AsyncBoundedQueue<Int>(capacity: 1)
        let wyoming = WyomingServer(
            configuration: config, pool: pool, speech: speech, logger: logger, probe: probe, onListening: { try? await port.send($0) })
        let group = ServiceGroup(
            services: [WorkerServerService(transport: transport.server, runtime: runtime, logger: logger), connection, wyoming],
            gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            guard let bound = try await port.next() else { throw DuplexError(.internal, "the Wyoming server did not start") }
            // The worker is ready once its default voice is loaded.
            try await waitUntil("the worker is ready", seconds: 60) { await pool.health().contains { $0.ready } }
            let result = try await body(bound, pool)
            await group.triggerGracefulShutdown()
            _ = try await tasks.next()
            return result
        }
    }
}
