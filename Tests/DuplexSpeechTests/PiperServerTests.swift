import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexSherpa
import DuplexTesting
import Foundation
import Logging
import Testing

/// The all-in-one server with its default (Piper) voice, over a real WebSocket.
@Suite struct PiperServerTests {
    @Test func defaultServerSpeaksWithPiperAndWhisperUnderstandsIt() async throws {
        var config = TestServer.configuration()
        config.worker.adapters = ["piper", "espeak"]
        config.worker.defaultModel = ""  // the best installed voice: Piper
        config.worker.voicepacksDir = TestAssets.voicepacks
        config.worker.cacheDir = SpeechModels.cache
        let text = "Hello there. The weather is nice today, and the morning train is on time."  // common words: Whisper tiny hears them reliably
        let reply = try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: Logger(label: "test")) { connection in
                let start = try await connection.startSession()
                #expect(start.json?["model_id"] as? String == "piper-en-us-joe")
                return try await connection.speak(text)
            }
        }
        #expect(reply.reason == "completed")
        #expect(reply.frameSizes.allSatisfy { $0 == OutputFormat.bytesPerFrame })
        #expect(reply.pcm.count > OutputFormat.bytesPerFrame * 100)  // > 2 s of audio
        let latency = try #require(reply.firstAudioLatency)
        #expect(latency < .seconds(10))  // a sanity bound (debug build, the whole suite in parallel); the bench measures it
        let frames = stride(from: 0, to: reply.pcm.count, by: OutputFormat.bytesPerFrame).map {
            reply.pcm.subdata(in: $0..<min(reply.pcm.count, $0 + OutputFormat.bytesPerFrame))
        }
        let heard = try await SpeechModels.transcribe(try SpeechModels.downsample(frames: frames)).text
        let wer = wordErrorRate(reference: text, hypothesis: heard)
        print("server piper → whisper: '\(heard)' WER \(wer), first audio \(latency)")
        // One sentence: a single misheard word is 9 %; the 11-sentence round trip holds the 15 % bar.
        #expect(wer <= 0.35)
    }
}
