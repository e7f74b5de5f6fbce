import DuplexClient
import DuplexCore
import DuplexTesting
import Foundation
import Logging
import Testing

/// A live fuzz run against a real `duplex serve` process (tools/clients/live_fuzz.py, the
/// `websockets` library): 100,000 hostile protocol v1 messages and 20,000 Realtime ones,
/// real requests interleaved. The server must not crash, every connection it did not close
/// for invalid UTF-8 (1007) must keep serving, memory must stay bounded, and a new session
/// must work afterwards.
///
/// It saturates both cores for two minutes, so it runs on its own after the rest of the suite
/// (`scripts/test.sh` sets `DUPLEX_LIVE_FUZZ=1` for a second `swift test --filter LiveFuzzTests`)
/// instead of starving the real-time tests beside it.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["DUPLEX_LIVE_FUZZ"] == "1"))
struct LiveFuzzTests {
    let logger = Logger(label: "test")

    static func fuzz(port: Int, path: String, dialect: String, messages: Int, seed: Int) async throws -> [String: Any] {
        let run = try await ProgramRun.run(
            TestAssets.python,
            ["\(TestAssets.repositoryRoot)/tools/clients/live_fuzz.py", "ws://127.0.0.1:\(port)\(path)", "--messages", "\(messages)",
             "--connections", "4", "--burst", "2000", "--seed", "\(seed)", "--dialect", dialect],
            timeout: .seconds(900))
        try #require(run.status == 0, "live_fuzz.py failed:\n\(run.errors)\n\(run.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "\(run.output)")
        print("live fuzz \(dialect): \(run.output)")
        return report
    }

    /// The resident set of `pid` in bytes (/proc).
    static func residentBytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    static func expectSurvived(_ report: [String: Any], messages: Int) {
        #expect((report["sent"] as? Int ?? 0) >= messages)
        #expect((report["probes_failed"] as? [String] ?? ["?"]).isEmpty, "\(report)")
        #expect((report["probes_passed"] as? Int ?? 0) >= messages / 2000 / 2, "\(report)")
        // The only closes are the server's answer to invalid UTF-8 in a text frame.
        #expect((report["closes"] as? [String: Int] ?? [:]).keys.allSatisfy { $0 == "1007" }, "\(report)")
        #expect((report["errors"] as? Int ?? 0) > messages / 2, "hostile messages were not answered with errors: \(report)")
    }

    @Test func hostileMessagesNeverCrashTheServerOrStopTheSessionsItKeeps() async throws {
        let server = try WorkerProcess.serve(environment: ["DUPLEX_ORCHESTRATOR_WORKER_TIMEOUT_MS": "30000"])
        defer { server.terminate() }
        try await TestServer.waitUntilHealthy(port: server.port)
        // 100,000 v1 messages in five runs of 20,000, then 20,000 Realtime ones in two. The
        // allocator's high-water mark moves in steps (measured: 522, 533, 613, 614, 618, 618,
        // 618 MiB on one run; 499…527 on another), so the bound is on the order a leak makes:
        // keeping every message (~5 KiB on average) would add ~600 MiB over 120,000 messages.
        var resident: [Int] = []
        for seed in 1...5 {
            let v1 = try await Self.fuzz(port: server.port, path: "/ws", dialect: "v1", messages: 20_000, seed: seed)
            Self.expectSurvived(v1, messages: 20_000)
            resident.append(try Self.residentBytes(server.processIdentifier))
        }
        for seed in 6...7 {
            let realtime = try await Self.fuzz(port: server.port, path: "/v1/realtime", dialect: "realtime", messages: 10_000, seed: seed)
            Self.expectSurvived(realtime, messages: 10_000)
            resident.append(try Self.residentBytes(server.processIdentifier))
        }
        #expect(server.isRunning)
        print("live fuzz: RSS after each run (MiB): \(resident.map { $0 / 1_048_576 })")
        let growth = resident.last! - resident.first!
        #expect(growth < 320 * 1_048_576, "RSS grew by \(growth / 1_048_576) MiB over 100,000 messages after the first run: \(resident)")
        // A new session is served as if nothing happened.
        try await DuplexConnection.connect(url: "ws://127.0.0.1:\(server.port)/ws", logger: logger) { connection in
            try await connection.startSession(["model_id": "sine-440"])
            let reply = try await connection.speak("Still here after the fuzz.")
            #expect(reply.reason == "completed")
            #expect(reply.errors.isEmpty)
        }
        let (health, status) = try await HTTP.get("http://127.0.0.1:\(server.port)/health")
        #expect(status == 200)
        let json = try JSONSerialization.jsonObject(with: health) as? [String: Any]
        #expect(json?["sessions"] as? Int == 0, "sessions left behind: \(json ?? [:])")
    }
}
