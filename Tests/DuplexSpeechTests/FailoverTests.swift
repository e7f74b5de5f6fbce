import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexDSP
import DuplexRegistry
import DuplexSherpa
import DuplexTesting
import Foundation
import Logging
import Testing

/// A worker killed (SIGKILL) in the middle of a reply: the session moves to another worker
/// and the reply completes there. Whisper checks that no clause is lost or repeated.
@Suite(.serialized) struct FailoverTests {
    @Test func aWorkerKilledMidReplyHandsTheRestToAnotherWorker() async throws {
        let redis = try await RedisServerProcess.start()
        defer { Task { try? await redis.stop() } }
        let registration = { (name: String) in (url: redis.url, name: name, heartbeatMs: 500, ttlMs: 5000) }
        let workers = try ["one", "two"].map { name in
            try WorkerProcess(
                adapters: "piper", defaultModel: "piper-en-us-joe", voicepacks: TestAssets.voicepacks, cacheDirectory: SpeechModels.cache,
                registry: registration(name))
        }
        defer { workers.forEach { $0.terminate() } }
        _ = try await redis.waitForRegistry(seconds: 60, "two ready workers") { $0.count == 2 && $0.allSatisfy(\.ready) }

        let sentences = [
            "The morning train leaves the station at seven.", "Bring a warm coat because the valley gets cold.",
            "We will stop for lunch near the old stone bridge.", "After that the path climbs toward the lighthouse.",
            "Dinner is served in the harbor restaurant at eight.",
        ]
        let text = sentences.joined(separator: " ")
        var config = TestServer.configuration()
        config.registry.redisURL = redis.url
        config.registry.rescanMs = 500
        let logger = Logger(label: "test")
        let (reply, changed) = try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                let start = try await connection.next(type: "session_start")
                let serving = start.json?["worker"] as? String ?? ""
                let victim = try #require(workers.first { $0.address == serving }, "session_start names its worker: \(start.json ?? [:])")
                try await connection.send(json: ["type": "text", "text": text, "is_final": true])
                // Kill the worker in the middle of the second sentence or so (~3.5 s of audio).
                let reply = try await connection.collectReply(sentAt: .now) { count, _ in
                    if count == 175 { victim.kill() }
                }
                return (reply, reply.events.first { $0.type == "worker_changed" })
            }
        }
        #expect(reply.reason == "completed", "errors: \(reply.errors)")
        let event = try #require(changed, "no worker_changed in \(reply.events.compactMap(\.type))")
        #expect(event.json?["from"] as? String != event.json?["to"] as? String)

        // What the client heard, through Whisper: every sentence once, in order.
        let samples = SampleConversion.float(from: reply.samples)
        let resampler = try Resampler(from: OutputFormat.sampleRate, to: 16_000)
        let heard = try SpeechModels.whisper.get().transcribe(resampler.process(samples) + resampler.flush()).text
        print("failover heard: \(heard)")
        let normalized = TextNormalizer().normalize(heard).lowercased()
        let wer = wordErrorRate(reference: text, hypothesis: normalized)
        print("failover WER \(wer), worker_changed \(event.json ?? [:])")
        #expect(wer <= 0.25)  // the clause at the seam may lose or blur a syllable
        // Words away from the seam (the kill lands in the second sentence): each heard once.
        for word in ["train", "bridge", "lighthouse", "harbor"] {
            #expect(normalized.components(separatedBy: word).count - 1 == 1, "'\(word)' should be heard exactly once")
        }
    }
}
