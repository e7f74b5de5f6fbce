import DuplexCodecs
import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexEngine
import DuplexSherpa
import DuplexTesting
import Foundation
import Testing

/// The OpenAI audio API driven by the official `openai` Python SDK against a real server
/// (Piper voice, Whisper), as users' tools would drive it.
@Suite(.serialized) struct OpenAIAudioTests {
    static let script = "\(TestAssets.repositoryRoot)/tools/clients/openai_audio_check.py"

    static func piperConfiguration() -> DuplexConfiguration {
        var config = TestServer.configuration()
        config.worker.adapters = ["piper", "espeak"]
        config.worker.defaultModel = ""
        config.worker.voicepacksDir = TestAssets.voicepacks
        config.worker.cacheDir = SpeechModels.cache
        config.openai.maxUploadBytes = 2 << 20  // so the oversize upload test sends 3 MiB, not 25
        return config
    }

    /// Runs the client; returns its JSON line (parse it with ``json(_:)`` outside the server).
    static func runClient(_ arguments: [String]) async throws -> String {
        let run = try await ProgramRun.run(TestAssets.python, [script] + arguments, timeout: .seconds(300))
        try #require(run.status == 0, "client failed: \(run.errors)")
        return try #require(run.output.split(separator: "\n").last.map(String.init))
    }

    static func json(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func speechInEveryFormatIsStreamedDecodedAndUnderstood() async throws {
        let text = "Hello there. The weather is nice today, and the morning train is on time."
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("openai-speech-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try Self.json(try await TestServer.with(Self.piperConfiguration()) { server in
            try await Self.runClient(["speech", server.httpURL + "/v1", out, "piper-en-us-joe", text])
        })
        let models = try #require(result["models"] as? [String])
        #expect(models.contains("piper-en-us-joe"))
        let voices = try #require(result["voices"] as? [String: Any])
        #expect((voices["voices"] as? [[String: Any]])?.contains { $0["id"] as? String == "piper-en-us-joe" } == true)
        #expect((voices["openai_voices"] as? [String: String])?["alloy"] == "piper-en-us-joe")  // the default voice
        for format in ["wav", "pcm", "opus", "mp3", "flac", "sse"] {
            let entry = try #require(result[format] as? [String: Any], "\(format) missing")
            let data = try Data(contentsOf: URL(fileURLWithPath: try #require(entry["path"] as? String)))
            let audio: DecodedAudio =
                if format == "pcm" || format == "sse" {
                    DecodedAudio(samples: Self.floats(data), sampleRate: 24_000, container: .wav)
                } else {
                    try AudioFileDecoder.decode(data)
                }
            #expect(audio.sampleRate == (format == "opus" ? 48_000 : 24_000), "\(format)")  // Opus is coded at its own 48 kHz
            #expect(audio.duration > 2 && audio.duration < 10, "\(format): \(audio.duration) s")
            let heard = try await SpeechModels.transcribe(try audio.whisperSamples()).text
            let wer = wordErrorRate(reference: text, hypothesis: heard)
            print("openai speech \(format): \(data.count) bytes, \(String(format: "%.2f", audio.duration)) s, first byte \(entry["first_byte_ms"] ?? "-") ms, total \(entry["total_ms"] ?? "-") ms, heard '\(heard)' WER \(wer)")
            #expect(wer <= 0.35, "\(format): '\(heard)'")
            if format != "sse" {
                #expect(entry["content_type"] as? String == AudioFormat(rawValue: format)?.contentType)
            } else {
                #expect(entry["last"] as? String == "speech.audio.done")
                #expect((entry["deltas"] as? Int ?? 0) > 1)
            }
        }
    }

    @Test func aRecordedClipIsTranscribedInEveryFormatAndStreamed() async throws {
        let speech = try SpeechInputTests.services.get()
        // 44 s of a human reader: longer than Whisper's 30 s window.
        let clip = TestAssets.clip("two_cities")
        // Its first 9 s for the formats that need no long file (one Whisper pass per format).
        let whole = try WAVFile.read(path: clip)
        let short = FileManager.default.temporaryDirectory.appendingPathComponent("two-cities-9s-\(UUID().uuidString).wav").path
        try WAVFile(samples: Array(whole.samples.prefix(9 * whole.sampleRate)), sampleRate: whole.sampleRate).write(path: short)
        defer { try? FileManager.default.removeItem(atPath: short) }
        let result = try Self.json(try await TestServer.with(TestServer.configuration(), speech: speech) { server in
            try await Self.runClient(["transcribe", server.httpURL + "/v1", clip, short])
        })
        let text = try #require(result["json"] as? String).lowercased()
        print("openai transcription: \(text)")
        for phrase in ["best of times", "worst of times", "age of wisdom"] { #expect(text.contains(phrase), "\(phrase)") }
        let long = try #require((result["verbose_json"] as? [String: Any])?["text"] as? String).lowercased()
        #expect(long.contains("season of light") || long.contains("season of darkness") || long.contains("spring of hope"), "the end of the 44 s clip")
        let plain = try #require(result["text"] as? String).lowercased()
        #expect(plain.contains("best of times"))
        let srt = try #require(result["srt"] as? String)
        #expect(srt.hasPrefix("1\n00:00:0"))
        #expect(srt.contains(" --> "))
        let vtt = try #require(result["vtt"] as? String)
        #expect(vtt.hasPrefix("WEBVTT\n\n00:00:"))
        let verbose = try #require(result["verbose_json"] as? [String: Any])
        #expect(abs((verbose["duration"] as? Double ?? 0) - 44.37) < 0.1)
        let segments = try #require(verbose["segments"] as? [[String: Any]])
        #expect(segments.count >= 3)
        let ends = segments.compactMap { $0["end"] as? Double }
        #expect(ends == ends.sorted())
        #expect((ends.last ?? 0) > 30)
        let stream = try #require(result["stream"] as? [String: Any])
        let deltas = try #require(stream["deltas"] as? [String])
        #expect(deltas.count >= 3)
        #expect(deltas.joined() == stream["done"] as? String)
        #expect((stream["done"] as? String)?.lowercased().contains("best of times") == true)
    }

    @Test func badRequestsGetOpenAIErrorsAndTheServerKeepsServing() async throws {
        let speech = try SpeechInputTests.services.get()
        let probe = SessionProbe()
        let result = try Self.json(try await TestServer.with(Self.piperConfiguration(), speech: speech, probe: probe) { server in
            let result = try await Self.runClient(["bad", server.httpURL + "/v1", "piper-en-us-joe"])
            // The session of the client that vanished ends and releases everything.
            try await waitUntil("the vanished client's session ended", seconds: 30) { probe.activeTasks == 0 }
            return result
        })
        func check(_ key: String, status: Int, code: String? = nil, param: String? = nil) {
            let entry = result[key] as? [String: Any] ?? [:]
            let body = (entry["body"] as? [String: Any])?["error"] as? [String: Any] ?? entry
            #expect(entry["status"] as? Int == status, "\(key): \(entry)")
            if let code { #expect(body["code"] as? String == code, "\(key): \(entry)") }
            if let param { #expect(body["param"] as? String == param, "\(key): \(entry)") }
        }
        check("unknown_voice", status: 400, code: "unknown_voice", param: "voice")
        check("speed", status: 400, param: "speed")
        check("aac", status: 400, code: "unsupported_format", param: "response_format")
        check("long_input", status: 400, code: "string_above_max_length", param: "input")
        check("empty_input", status: 400, param: "input")
        check("malformed_json", status: 400, code: "invalid_json")
        check("wrong_type", status: 400, code: "invalid_type", param: "input")
        check("garbage_audio", status: 400, param: "file")
        check("m4a", status: 400, param: "file")
        check("oversize", status: 413, code: "file_too_large")
        check("no_file", status: 400, param: "file")
        check("not_multipart", status: 400, code: "invalid_content_type")
        check("after", status: 200)
        #expect((result["vanished_got_bytes"] as? Int ?? 0) > 0)
        let m4a = ((result["m4a"] as? [String: Any])?["message"] as? String) ?? ""
        #expect(m4a.contains("wav"), "the refusal names the supported formats: \(m4a)")
    }

    static func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { SampleConversion.float(fromLittleEndianBytes: $0) }
    }
}
