import DuplexClient
import DuplexCore
import DuplexEngine
import DuplexTesting
import Foundation
import Logging
import Testing

/// The orchestrator talking real gRPC over loopback to real `duplex worker` processes.
@Suite(.serialized) struct RemoteWorkerTests {
    let logger = Logger(label: "test")

    @Test func pauseResumeStopOverRealGRPC() async throws {
        let worker = try WorkerProcess()
        defer { worker.terminate() }
        try await TestServer.with(TestServer.configuration(workers: [worker.address])) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                try await connection.startSession(["model_id": "sine-440"])
                let text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu."
                let reference = try await connection.speak(text)
                let sent = ContinuousClock.now
                try await connection.send(json: ["type": "text", "text": text, "is_final": true])
                let resumed = try await connection.collectReply(sentAt: sent) { count, connection in
                    if count == 8 {
                        try await connection.send(json: ["type": "control", "command": "PAUSE"])
                        try await Task.sleep(for: .milliseconds(300))
                        try await connection.send(json: ["type": "control", "command": "RESUME"])
                    }
                }
                #expect(resumed.pcm == reference.pcm)
                let sentAgain = ContinuousClock.now
                try await connection.send(json: ["type": "text", "text": text, "is_final": true])
                let stopped = try await connection.collectReply(sentAt: sentAgain) { count, connection in
                    if count == 4 { try await connection.send(json: ["type": "control", "command": "STOP"]) }
                }
                #expect(stopped.reason == "stopped")
                #expect(stopped.frameSizes.count < reference.frameSizes.count)
            }
        }
    }

    @Test func workerKilledMidStreamGivesAnErrorAndTheOrchestratorKeepsServing() async throws {
        let port = try FreePort.find()
        let worker = try WorkerProcess(port: port)
        try await TestServer.with(TestServer.configuration(workers: [worker.address])) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                _ = try await connection.next(type: "session_start")
                let sent = ContinuousClock.now
                try await connection.send(json: ["type": "text", "text": String(repeating: "The worker will die during this sentence. ", count: 5), "is_final": true])
                let reply = try await connection.collectReply(sentAt: sent) { count, _ in
                    if count == 10 { worker.kill() }
                }
                #expect(reply.reason == "error")
                #expect(reply.errors.contains { $0.hasPrefix("WORKER_UNAVAILABLE") })

                // While the worker is down: a clear error, and the session stays open.
                let down = try await connection.speak("Anyone there?")
                #expect(down.reason == "error")
                #expect(down.errors.contains { $0.hasPrefix("WORKER_UNAVAILABLE") })

                // The worker comes back on the same address: the next reply works.
                await worker.waitUntilGone()
                let revived = try WorkerProcess(port: port)
                defer { revived.terminate() }
                var recovered: SpokenReply?
                for _ in 0..<50 {
                    let attempt = try await connection.speak("Back again.")
                    if attempt.reason == "completed" {
                        recovered = attempt
                        break
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(recovered?.frameSizes.isEmpty == false)
            }
        }
    }

    @Test func sigtermMidReplyClosesConnectionsAndExitsCleanly() async throws {
        let server = try WorkerProcess.serve()
        defer { server.kill() }
        try await TestServer.waitUntilHealthy(port: server.port)
        try await DuplexConnection.connect(url: "ws://127.0.0.1:\(server.port)/ws", logger: logger) { connection in
            _ = try await connection.next(type: "session_start")
            try await connection.send(json: ["type": "text", "text": String(repeating: "A long reply is playing now. ", count: 8), "is_final": true])
            _ = try await connection.next(type: "tts_start")
            server.signalTerminate()
            // The server closes the socket instead of hanging on the live session.
            var closed = false
            do {
                while try await connection.next() != nil {}
                closed = true
            } catch {
                closed = true
            }
            #expect(closed)
        }
        #expect(await server.waitForExit() == 0)
    }
}
