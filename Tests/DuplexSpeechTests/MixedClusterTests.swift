import DuplexClient
import DuplexConfig
import DuplexConformance
import DuplexCore
import DuplexDSP
import DuplexEngine
import DuplexRegistry
import DuplexTesting
import Foundation
import Logging
import Testing

/// Workers written with the Python SDK (`sdk/python`) beside Swift workers: the reference
/// Piper worker passes the conformance kit, is routed to by model through Redis, and a reply
/// it was speaking fails over to a Swift worker when it dies.
@Suite(.serialized) struct MixedClusterTests {
    @Test func thePythonReferenceWorkerPassesTheConformanceKit() async throws {
        let python = try await PythonWorkerProcess.piper(modelID: "piper-py-joe")
        defer { python.kill() }
        var relaxed = WorkerConformance.Settings()
        relaxed.enforceTiming = false
        let settings = relaxed
        let connection = try WorkerConnection(address: WorkerAddress(parsing: python.address), timeout: .seconds(30))
        let report = await withTaskGroup(of: ConformanceReport?.self) { group in
            group.addTask {
                try? await connection.run()
                return nil
            }
            let report = await WorkerConformance(worker: connection, settings: settings).run()
            connection.shutdown()
            return report
        }
        print("conformance of the Python piper worker:\n\(report.table)")
        #expect(report.passed, "\(report.table)")
    }

    @Test func theDocumentedThirtyLineWorkerPassesDuplexConformance() async throws {
        let chirp = try await PythonWorkerProcess.start(module: "duplex_worker.examples.chirp", [])
        defer { chirp.kill() }
        let run = try await ProgramRun.run(WorkerProcess.executable, ["conformance", chirp.address, "--timing-as-figures"])
        print(run.output)
        #expect(run.status == 0, "\(run.output)\n\(run.errors.suffix(2000))")
        #expect(run.output.contains("conformance: PASSED (14 checks)"))
    }

    @Test func aPythonWorkerServesItsModelAndItsReplyFailsOverToASwiftWorker() async throws {
        let redis = try await RedisServerProcess.start()
        defer { Task { try? await redis.stop() } }
        let swift = try WorkerProcess(
            adapters: "espeak", defaultModel: "espeak-en-us", registry: (url: redis.url, name: "swift-espeak", heartbeatMs: 500, ttlMs: 5000))
        defer { swift.terminate() }
        let python = try await PythonWorkerProcess.piper(modelID: "piper-py-joe", redis: (url: redis.url, name: "python-piper"))
        defer { python.kill() }
        _ = try await redis.waitForRegistry(seconds: 90, "a Swift and a Python worker, ready") { $0.count == 2 && $0.allSatisfy(\.ready) }

        var config = TestServer.configuration()
        config.registry.redisURL = redis.url
        config.registry.rescanMs = 500
        let logger = Logger(label: "test")
        let sentences = Array(FailoverTests.sentences.prefix(5))
        let seam = Locked(0)
        let (question, reply) = try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                // Routed by model: only the Python worker has piper-py-joe.
                let started = try await connection.startSession(["model_id": "piper-py-joe"])
                #expect(started.json?["worker"] as? String == python.address, "\(started.json ?? [:])")
                #expect(started.json?["model_id"] as? String == "piper-py-joe")
                let first = try await connection.speak("What time does the library open tomorrow morning?")
                // A long reply; the Python worker dies in its second sentence.
                try await connection.send(json: ["type": "text", "text": sentences.joined(separator: " "), "is_final": true])
                let frames = Locked(0)
                let reply = try await connection.collectReply(sentAt: .now) { count, _ in
                    frames.withLock { $0 = count }
                    if count == 175 { python.kill() }
                } onEvent: { message, _ in
                    if message.type == "worker_changed" { seam.withLock { $0 = frames.value } }
                }
                return (first, reply)
            }
        }
        #expect(question.reason == "completed", "errors: \(question.errors)")
        let (heardQuestion, normalizedQuestion) = try await FailoverTests.heard(question)
        print("python worker said: \(heardQuestion)")
        #expect(wordErrorRate(reference: "What time does the library open tomorrow morning?", hypothesis: normalizedQuestion) <= 0.2)

        #expect(reply.reason == "completed", "errors: \(reply.errors), events: \(reply.events.compactMap(\.json))")
        let change = try #require(reply.events.first { $0.type == "worker_changed" }?.json, "no worker_changed in \(reply.events.compactMap(\.type))")
        #expect(change["from"] as? String == python.address)
        #expect(change["to"] as? String == swift.address)
        #expect(change["model_id"] as? String == "espeak-en-us")
        // Each voice through Whisper on its own (one decode over a voice change tends to stop
        // early): the Python worker's part, then the Swift worker's.
        var before = reply, after = reply
        let cut = reply.frameSizes.prefix(seam.value).reduce(0, +)
        before.pcm = reply.pcm.prefix(cut)
        after.pcm = reply.pcm.dropFirst(cut)
        let (heardBefore, normalizedBefore) = try await FailoverTests.heard(before)
        let (heardAfter, normalizedAfter) = try await FailoverTests.heard(after)
        print("python part: \(heardBefore)\nswift part: \(heardAfter)")
        FailoverTests.expectEverySentenceOnce(heard: normalizedBefore + " " + normalizedAfter, markers: Array(FailoverTests.markers.prefix(5)))
    }
}
