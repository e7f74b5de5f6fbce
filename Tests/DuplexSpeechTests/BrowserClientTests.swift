import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexDSP
import DuplexOrchestrator
import DuplexSecurity
import DuplexSherpa
import DuplexTesting
import Foundation
import Testing

/// The browser client (web/) in real headless Chromium (Debian's `chromium` and
/// `chromium-driver`, driven by selenium from tools/browser_e2e.py), with a fake microphone
/// playing a spoken question, and an interruption spoken into it while the reply plays.
@Suite(.serialized) struct BrowserClientTests {
    @Test func thePageHearsAQuestionPlaysTheReplyAndStopsOnBargeIn() async throws {
        let python = "\(TestAssets.deps)/venv/bin/python"
        let chromium = "/usr/bin/chromium", driver = "/usr/bin/chromedriver"
        for tool in [python, chromium, driver] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run scripts/test.sh (it installs chromium, chromium-driver and selenium)")
        }
        // Smart Turn ends the turns, and partial transcripts follow the user while they speak.
        var turn = TurnSection()
        turn.partialIntervalMs = 400
        let speech = SpeechServices(
            vadModel: TestAssets.sileroVAD, vadParameters: .preset(aggressiveness: 2), recognizer: try SpeechModels.whisper.get(),
            endOfTurnModel: try EndOfTurnTests.smartTurn.get(), turn: TurnSettings(turn))
        // Microphone (Chromium's fake capture device): 1 s silence, the question, silence.
        // The interruption is spoken into the same microphone by the driver once the reply
        // has been playing for 15 frames, so it lands on the reply however slow the machine.
        let question = try await SpeechInputTests.question("What time does the library open tomorrow?", rate: 16_000, leadingMs: 1000)
        let interruption = try await SpeechInputTests.question(
            "Wait, stop, I have another question about the parking garage.", rate: 16_000, leadingMs: 0)
        let micWAV = try Self.writeWAV(question + Data(count: 16_000 * 2 * 6))
        let interruptionWAV = try Self.writeWAV(interruption)
        defer {
            try? FileManager.default.removeItem(atPath: micWAV)
            try? FileManager.default.removeItem(atPath: interruptionWAV)
        }
        let screenshot = NSTemporaryDirectory() + "duplex-browser-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: screenshot) }

        var config = TestServer.configuration()
        config.server.webDir = "\(TestAssets.repositoryRoot)/web"
        let result = try await TestServer.with(config, speech: speech) { server in
            // The page and the catalog are served by the orchestrator itself.
            let (page, status) = try await HTTP.get("\(server.httpURL)/")
            #expect(status == 200 && String(decoding: page, as: UTF8.self).contains("<script type=\"module\""))
            let (models, modelsStatus) = try await HTTP.get("\(server.httpURL)/v1/models")
            let catalog = try JSONSerialization.jsonObject(with: models) as? [String: Any]
            #expect(modelsStatus == 200 && (catalog?["models"] as? [[String: Any]])?.contains { $0["model_id"] as? String == "espeak-en-us" } == true)

            return try await ProgramRun.run(python, [
                "\(TestAssets.repositoryRoot)/tools/browser_e2e.py", "--url", "\(server.httpURL)/", "--mic-wav", micWAV, "--interrupt-wav", interruptionWAV,
                "--screenshot", screenshot, "--expect-words", "library,open", "--expect-barge-in", "--expect-turn-model", "--timeout", "90",
            ])
        }
        print("browser e2e: \(result.output)")
        #expect(result.status == 0, "tools/browser_e2e.py failed: \(result.output) \(result.errors.suffix(2000))")
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect((json?["framesPlayed"] as? Int ?? 0) > 25)
        #expect((json?["bargeIns"] as? Int ?? 0) >= 1)
        // The page showed the user's words while they spoke, and why the turn ended.
        let partials = json?["partials"] as? [String] ?? []
        let endOfTurn = json?["endOfTurn"] as? [String: Any] ?? [:]
        #expect(partials.count >= 2)
        #expect(endOfTurn["reason"] as? String != nil)
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }

    /// A colleague on the LAN: the page over `--tls self-signed` with an API key, opened by
    /// Chromium in another network namespace (another host, as far as the network goes) at
    /// the server's non-loopback address, with the key in `?token=`. The certificate is
    /// accepted as a person would click through the warning; the page then has a secure
    /// context, gets its microphone and converses.
    @Test func aBrowserOnAnotherHostConversesOverSelfSignedTLSWithAToken() async throws {
        let python = "\(TestAssets.deps)/venv/bin/python"
        for tool in [python, "/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/sbin/ip"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run scripts/test.sh")
        }
        let namespace = try await NetworkNamespace.create(prefix: "dpxweb")
        let speech = SpeechServices(
            vadModel: TestAssets.sileroVAD, vadParameters: .preset(aggressiveness: 2), recognizer: try SpeechModels.whisper.get())
        let question = try await SpeechInputTests.question("What time does the library open tomorrow?", rate: 16_000, leadingMs: 1000)
        let micWAV = try Self.writeWAV(question + Data(count: 16_000 * 2 * 6))
        let tlsDir = NSTemporaryDirectory() + "duplex-lan-tls-\(UUID().uuidString)"
        let screenshot = NSTemporaryDirectory() + "duplex-lan-\(UUID().uuidString).png"
        defer {
            try? FileManager.default.removeItem(atPath: micWAV)
            try? FileManager.default.removeItem(atPath: tlsDir)
            try? FileManager.default.removeItem(atPath: screenshot)
        }
        let key = "dpx_lan-demo-key-0123456789abcdef"
        var config = TestServer.configuration()
        config.server.webDir = "\(TestAssets.repositoryRoot)/web"
        config.server.host = namespace.hostAddress
        config.server.tls = .selfSigned
        config.server.tlsDir = tlsDir
        config.security.apiKeys = [APIKeyStore.hash(key)]
        let outcome: Result<ProgramRun.Result, any Error>
        do {
            outcome = .success(try await TestServer.with(config, speech: speech) { server in
                // The generated certificate names the address the colleague uses.
                let text = try await ProgramRun.run("/usr/bin/openssl", ["x509", "-in", tlsDir + "/cert.pem", "-noout", "-text"])
                #expect(text.output.contains("IP Address:\(namespace.hostAddress)"))
                return try await namespace.run(python, [
                    "\(TestAssets.repositoryRoot)/tools/browser_e2e.py", "--url", "https://\(namespace.hostAddress):\(server.port)/?token=\(key)",
                    "--mic-wav", micWAV, "--screenshot", screenshot, "--expect-words", "library,open", "--accept-certificate", "--timeout", "90",
                ])
            })
        } catch {
            outcome = .failure(error)
        }
        await namespace.remove()
        let result = try outcome.get()
        print("browser over LAN TLS: \(result.output)")
        #expect(result.status == 0, "tools/browser_e2e.py failed: \(result.output) \(result.errors.suffix(2000))")
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["secureContext"] as? Bool == true)
        #expect((json["micFramesSent"] as? Int ?? 0) > 50, "the page got its microphone: \(json)")
        #expect((json["framesPlayed"] as? Int ?? 0) > 25)
    }

    private static func writeWAV(_ pcm: Data) throws -> String {
        let samples = pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let path = NSTemporaryDirectory() + "duplex-browser-mic-\(UUID().uuidString).wav"
        try WAVFile(samples: samples, sampleRate: 16_000).write(path: path)
        return path
    }
}
