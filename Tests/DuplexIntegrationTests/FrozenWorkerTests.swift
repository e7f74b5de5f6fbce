import DuplexClient
import DuplexCore
import DuplexEngine
import DuplexTesting
import Foundation
import Logging
import Testing

/// A worker process frozen with SIGSTOP mid-reply (`duplex serve --workers grpc://…`): the
/// client's STOP ends the reply at once, other messages are answered meanwhile, and once the
/// worker goes on (SIGCONT) the next reply plays.
@Suite(.serialized) struct FrozenWorkerTests {
    let logger = Logger(label: "test")

    @Test func stopOnAFrozenWorkerEndsTheReplyAtOnceAndTheSessionGoesOn() async throws {
        let worker = try WorkerProcess()
        defer { worker.terminate() }
        // `duplex serve --workers grpc://…` as its own process, as users run it. Its worker
        // timeout is long, so that a STOP waiting for the frozen worker (the stall watchdog,
        // or a timed-out call) could not pass for a prompt one.
        let server = try WorkerProcess.serve(workers: [worker.address], environment: ["DUPLEX_ORCHESTRATOR_WORKER_TIMEOUT_MS": "30000"])
        defer { server.terminate() }
        try await TestServer.waitUntilHealthy(port: server.port)
        try await DuplexConnection.connect(url: "ws://127.0.0.1:\(server.port)/ws", logger: logger) { connection in
            try await connection.startSession(["model_id": "sine-440"])
            let long = String(repeating: "This reply is long enough to be frozen in the middle. ", count: 8)
            try await connection.send(json: ["type": "text", "text": long, "is_final": true])
            let stopSent = Locked<ContinuousClock.Instant?>(nil)
            let reply = try await connection.collectReply(sentAt: .now) { count, connection in
                guard count == 10 else { return }
                worker.send(signal: SIGSTOP)
                // Frames already in flight arrive; nothing more comes. STOP now.
                stopSent.withLock { $0 = .now }
                try await connection.send(json: ["type": "control", "command": "STOP"])
                // Other messages are answered while the worker is frozen.
                try await connection.send(raw: "not json")
            }
            // When `tts_end` reached the client's socket reader (a test process busy with the
            // whole parallel suite may handle it later).
            let ended = try #require(reply.events.last { $0.type == "tts_end" })
            let stoppedAfter = try #require(stopSent.value).duration(to: ended.receivedAt)
            print("frozen worker: tts_end \(stoppedAfter) after STOP")
            #expect(reply.reason == "stopped")
            #expect(stoppedAfter < .seconds(1))
            // The bad message's error comes before or after `tts_end`.
            if !reply.errors.contains(where: { $0.hasPrefix("INVALID_MESSAGE") }) {
                let error = try #require(try await connection.next(type: "error").json)
                #expect(error["code"] as? String == "INVALID_MESSAGE")
            }
            worker.send(signal: SIGCONT)
            let next = try await connection.speak("The worker is back.")
            #expect(next.reason == "completed", "errors: \(next.errors)")
            #expect(next.frameSizes.count > 10)
        }
    }
}
