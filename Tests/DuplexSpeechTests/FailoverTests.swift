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
    static let sentences = [
        "The morning train leaves the station at seven.", "Bring a warm coat because the valley gets cold.",
        "We will stop for lunch near the old stone bridge.", "After that the path climbs toward the lighthouse.",
        "Dinner is served in the harbor restaurant at eight.", "Breakfast is early because the ferry sails at nine.",
    ]

    /// Piper worker processes registered in `redis`, ready.
    static func piperWorkers(_ names: [String], redis: RedisServerProcess) async throws -> [WorkerProcess] {
        let workers = try names.map { name in
            try WorkerProcess(
                adapters: "piper", defaultModel: "piper-en-us-joe", voicepacks: TestAssets.voicepacks, cacheDirectory: SpeechModels.cache,
                registry: (url: redis.url, name: name, heartbeatMs: 500, ttlMs: 5000))
        }
        _ = try await redis.waitForRegistry(seconds: 90, "\(names.count) ready workers") { $0.count == names.count && $0.allSatisfy(\.ready) }
        return workers
    }

    /// An orchestrator routing through `redis`.
    static func configuration(redis: RedisServerProcess) -> DuplexConfiguration {
        var config = TestServer.configuration()
        config.registry.redisURL = redis.url
        config.registry.rescanMs = 500
        return config
    }

    /// What Whisper hears in a reply, normalized.
    static func heard(_ reply: SpokenReply) async throws -> (raw: String, normalized: String) {
        let samples = SampleConversion.float(from: reply.samples)
        let resampler = try Resampler(from: OutputFormat.sampleRate, to: 16_000)
        let heard = try await SpeechModels.transcribe(resampler.process(samples) + resampler.flush()).text
        return (heard, TextNormalizer().normalize(heard).lowercased())
    }

    @Test func aWorkerKilledMidReplyHandsTheRestToAnotherWorker() async throws {
        let redis = try await RedisServerProcess.start()
        defer { Task { try? await redis.stop() } }
        let workers = try await Self.piperWorkers(["one", "two"], redis: redis)
        defer { workers.forEach { $0.terminate() } }
        let text = Self.sentences.prefix(5).joined(separator: " ")
        let config = Self.configuration(redis: redis)
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
        let (heard, normalized) = try await Self.heard(reply)
        print("failover heard: \(heard)")
        let wer = wordErrorRate(reference: text, hypothesis: normalized)
        print("failover WER \(wer), worker_changed \(event.json ?? [:])")
        #expect(wer <= 0.25)  // the clause at the seam may lose or blur a syllable
        Self.expectEverySentenceOnce(heard: normalized, markers: Array(Self.markers.prefix(5)))
    }

    /// Three distinctive words of each test sentence.
    static let markers = [
        ["morning", "station", "train"], ["bring", "warm", "cold"], ["lunch", "stone", "bridge"],
        ["after", "climbs", "toward"], ["dinner", "served", "restaurant"], ["breakfast", "early", "sails"],
    ]

    /// Every sentence heard (at least two of its three words; Whisper may misspell one, as
    /// "harber" or "fairy") and none twice (no word of it heard more than once).
    static func expectEverySentenceOnce(heard: String, markers: [[String]]) {
        let words = heard.split(whereSeparator: { !$0.isLetter }).map(String.init)
        for sentence in markers {
            let counts = sentence.map { word in words.filter { $0 == word }.count }
            #expect(counts.filter { $0 > 0 }.count >= 2, "sentence with \(sentence) lost: \(heard)")
            #expect(counts.allSatisfy { $0 <= 1 }, "sentence with \(sentence) repeated: \(heard)")
        }
    }

    /// Three workers behind Redis; the serving one is killed mid-reply, then the one that took
    /// over is killed too: each `worker_changed` starts where the previous one ended, and the
    /// client hears every sentence once.
    @Test func twoFailoversInOneReplyWithThreeWorkers() async throws {
        let redis = try await RedisServerProcess.start()
        defer { Task { try? await redis.stop() } }
        let workers = try await Self.piperWorkers(["one", "two", "three"], redis: redis)
        defer { workers.forEach { $0.terminate() } }
        let text = Self.sentences.joined(separator: " ")
        let config = Self.configuration(redis: redis)
        let logger = Logger(label: "test")
        let (reply, changes) = try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                let start = try await connection.next(type: "session_start")
                let serving = start.json?["worker"] as? String ?? ""
                let first = try #require(workers.first { $0.address == serving }, "session_start names its worker")
                try await connection.send(json: ["type": "text", "text": text, "is_final": true])
                let changes = Locked<[WorkerChange]>([])
                let reply = try await connection.collectReply(sentAt: .now) { count, _ in
                    // The first worker dies in the second sentence…
                    if count == 175 { first.kill() }
                    // …and the one that took over dies two sentences later.
                    if count == 400, let to = changes.value.first?.to { workers.first { $0.address == to }?.kill() }
                } onEvent: { message, _ in
                    if message.type == "worker_changed", let json = message.json {
                        let change = WorkerChange(
                            from: json["from"] as? String ?? "", to: json["to"] as? String ?? "", resumeSegment: json["resume_segment"] as? Int ?? -1)
                        changes.withLock { $0.append(change) }
                    }
                }
                return (reply, changes.value)
            }
        }
        #expect(reply.reason == "completed", "errors: \(reply.errors)")
        try #require(changes.count == 2, "worker_changed events: \(changes)")
        let (first, second) = (changes[0], changes[1])
        #expect(first.from != first.to && second.from == first.to && second.to != first.to && second.to != first.from)
        #expect(second.resumeSegment > first.resumeSegment)

        let (heard, normalized) = try await Self.heard(reply)
        print("double failover heard: \(heard)")
        print("double failover WER \(wordErrorRate(reference: text, hypothesis: normalized)), worker_changed \(changes)")
        #expect(wordErrorRate(reference: text, hypothesis: normalized) <= 0.25)
        Self.expectEverySentenceOnce(heard: normalized, markers: Self.markers)
    }
}

/// A `worker_changed` event.
struct WorkerChange: Sendable {
    var from: String
    var to: String
    var resumeSegment: Int
}
