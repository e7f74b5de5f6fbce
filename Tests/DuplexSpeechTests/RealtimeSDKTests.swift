import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexOrchestrator
import DuplexTesting
import Foundation
import Testing

/// The OpenAI Realtime API (`/v1/realtime`) driven by the official `openai` Python SDK
/// (`client.realtime.connect`), against a real server: Silero VAD, Whisper, the Piper voice,
/// the echo responder, and a recorded human clip streamed in real time
/// (tools/realtime_e2e.py runs each scenario and prints what it saw).
@Suite(.serialized) struct RealtimeSDKTests {
    static func piperConfiguration() -> DuplexConfiguration {
        var config = TestServer.configuration()
        config.worker.adapters = ["piper", "espeak"]
        config.worker.defaultModel = ""  // the best installed voice: Piper
        config.worker.voicepacksDir = TestAssets.voicepacks
        config.worker.cacheDir = SpeechModels.cache
        return config
    }

    /// Runs one scenario of tools/realtime_e2e.py against `server`; its JSON report.
    static func scenario(_ name: String, server: TestServer.Handle) async throws -> [String: Any] {
        let run = try await ProgramRun.run(
            TestAssets.python,
            ["\(TestAssets.repositoryRoot)/tools/realtime_e2e.py", "--base-url", "\(server.httpURL)/v1", "--clip", TestAssets.clip("two_cities"), name],
            timeout: .seconds(150))
        try #require(run.status == 0, "scenario \(name) failed: \(run.errors.suffix(3000))")
        let line = run.output.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "output: \(run.output)")
    }

    static func words(_ text: Any?) -> String {
        (text as? String ?? "").lowercased().filter { $0.isLetter || $0 == " " }
    }

    static func audio(_ stats: Any?) -> (samples: Int, rms: Double) {
        let object = stats as? [String: Any] ?? [:]
        return (object["samples"] as? Int ?? 0, object["rms"] as? Double ?? 0)
    }

    @Test func aSpokenTurnIsTranscribedAndAnsweredWithAudioAndABargeInTruncatesTheReply() async throws {
        let speech = try SpeechInputTests.services.get()
        try await TestServer.with(Self.piperConfiguration(), speech: speech) { server in
            let report = try await Self.scenario("conversation", server: server)
            print("realtime conversation: \(report.filter { !$0.key.hasSuffix("_events") })")
            #expect(report["session_created_model"] as? String == "gpt-realtime")
            #expect(report["updated_turn_detection"] as? String == "server_vad")
            #expect(report["updated_instructions"] as? String == "Answer briefly.")
            #expect(report["errors"] == nil, "\(report["errors"] ?? "")")

            // What was said ("It was the best of times, it was the worst of times"), heard.
            let transcript = Self.words(report["transcript"])
            #expect(transcript.contains("best of times") && transcript.contains("worst"), "heard: \(transcript)")
            let events = report["turn1_events"] as? [String] ?? []
            let order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
                         "conversation.item.input_audio_transcription.completed", "response.created", "response.output_item.added",
                         "response.output_audio.delta", "response.output_audio.done", "response.output_audio_transcript.done", "response.done"]
            let positions = order.map { events.firstIndex(of: $0) ?? -1 }
            #expect(!positions.contains(-1) && positions == positions.sorted(), "events: \(events)")
            let started = report["speech_started_ms"] as? Int ?? -1, stopped = report["speech_stopped_ms"] as? Int ?? -1
            #expect(started >= 0 && started < 1500 && stopped > started + 2500, "speech \(started)–\(stopped) ms")

            // The echo speaks the transcript back: seconds of 24 kHz speech, not silence.
            #expect(report["response_status"] as? String == "completed")
            #expect(report["response_output_items"] as? Int == 1)
            let audio = Self.audio(report["audio"])
            #expect(audio.samples > 24_000 * 2 && audio.samples < 24_000 * 15, "\(audio.samples) samples")
            #expect(audio.rms > 300, "rms \(audio.rms)")
            #expect((report["audio_deltas"] as? Int ?? 0) > 50)
            #expect(Self.words(report["reply_transcript"]) == transcript)
            #expect(Self.words(report["reply_transcript_deltas"]) == transcript)

            // Barge-in: speech over the second reply cancels it and truncates it to what was played.
            #expect(report["barge_in_speech_started"] as? Bool == true)
            #expect(report["barge_in_status"] as? String == "cancelled")
            #expect(report["barge_in_reason"] as? String == "turn_detected")
            let truncated = report["truncated_audio_end_ms"] as? Int ?? -1
            #expect(truncated >= 200 && truncated < 3500, "truncated at \(truncated) ms")
            #expect(Self.words(report["interruption_transcript"]).contains("age"), "\(report["interruption_transcript"] ?? "")")
        }
    }

    @Test func manualTurnsCommitThenAskForTheResponse() async throws {
        let speech = try SpeechInputTests.services.get()
        try await TestServer.with(Self.piperConfiguration(), speech: speech) { server in
            let report = try await Self.scenario("manual", server: server)
            #expect(report["turn_detection"] is NSNull)
            #expect((report["vad_events"] as? [String])?.isEmpty == true, "no VAD events with manual turns")
            #expect(report["same_item"] as? Bool == true)
            let transcript = Self.words(report["transcript"])
            #expect(transcript.contains("best of times"), "heard: \(transcript)")
            #expect(report["response_status"] as? String == "completed")
            let audio = Self.audio(report["audio"])
            #expect(audio.samples > 24_000 && audio.rms > 300)
        }
    }

    @Test func badInputGetsErrorEventsAndTheSessionGoesOn() async throws {
        let speech = try SpeechInputTests.services.get()
        try await TestServer.with(Self.piperConfiguration(), speech: speech) { server in
            let report = try await Self.scenario("bad", server: server)
            let errors = report["errors"] as? [[String: Any]] ?? []
            #expect(errors.map { $0["code"] as? String ?? "" } == ["unknown_event_type", "invalid_json", "invalid_value", "invalid_value", "invalid_value"])
            #expect(errors.allSatisfy { $0["type"] as? String == "invalid_request_error" })
            #expect(errors.first?["event_id"] as? String == "evt_unknown")
            #expect(errors.count > 2 && errors[2]["param"] as? String == "session.audio.input.format.rate" && errors[2]["event_id"] as? String == "evt_rate")
            #expect(report["after_status"] as? String == "completed")
            #expect(Self.audio(report["after_audio"]).rms > 300)
        }
    }

    @Test func aClientVanishingMidResponseLeavesNothingBehindAndOthersAreServed() async throws {
        let speech = try SpeechInputTests.services.get()
        let probe = SessionProbe()
        try await TestServer.with(Self.piperConfiguration(), speech: speech, probe: probe) { server in
            let report = try await Self.scenario("vanish", server: server)
            #expect(report["vanished_after"] as? String == "response.output_audio.delta")
            #expect(report["second_status"] as? String == "completed")
            #expect(Self.audio(report["second_audio"]).rms > 300)
            // Both sessions ended: every session task is gone.
            try await waitUntil("every session task ended", seconds: 10) { probe.activeTasks == 0 }
            #expect(probe.activeTasks == 0)
            let (health, _) = try await HTTP.get("\(server.httpURL)/health")
            let sessions = (try JSONSerialization.jsonObject(with: health) as? [String: Any])?["sessions"] as? Int
            #expect(sessions == 0)
        }
    }

    @Test func theBetaDialectSpeaksTheBetaNames() async throws {
        let speech = try SpeechInputTests.services.get()
        try await TestServer.with(Self.piperConfiguration(), speech: speech) { server in
            let report = try await Self.scenario("beta", server: server)
            let types = report["types"] as? [String] ?? []
            #expect(report["input_audio_format"] as? String == "pcm16")
            #expect(types.contains("conversation.item.created") && !types.contains("conversation.item.added"))
            #expect(types.contains("response.audio.delta") && !types.contains("response.output_audio.delta"))
            #expect(types.contains("response.audio_transcript.delta"))
            #expect(report["status"] as? String == "completed")
            #expect(Self.audio(report["audio"]).rms > 300)
        }
    }
}
