import DuplexCore
import DuplexTesting
import Foundation
import Testing

/// Per-key limits on a real server, driven by the clients people use (tools/clients/
/// quota_check.py: `websockets`, the `openai` SDK for speech and Realtime): a key's second
/// session, a message flood and used-up reply audio are refused with RATE_LIMITED and a
/// retry hint in each protocol's shape; the session goes on, another key is unaffected, and
/// `/metrics` counts the refusals.
@Suite(.serialized) struct QuotaIntegrationTests {
    static let keyA = "dpx_quota-test-key-a-0123456789"
    static let keyB = "dpx_quota-test-key-b-0123456789"

    @Test func aKeysLimitsAreEnforcedInEveryProtocolAndLeaveOtherKeysAlone() async throws {
        // A real `duplex serve` process (its /metrics is the process's registry), the limits
        // from the environment as an operator would set them.
        let server = try WorkerProcess.serve(
            environment: [
                "DUPLEX_QUOTAS_SESSIONS": "1", "DUPLEX_QUOTAS_MESSAGES_PER_S": "5", "DUPLEX_QUOTAS_AUDIO_OUT_S_PER_MIN": "2",
                "DUPLEX_ORCHESTRATOR_WORKER_TIMEOUT_MS": "30000",
            ],
            arguments: ["--api-key", Self.keyA, "--api-key", Self.keyB])
        defer { server.terminate() }
        try await TestServer.waitUntilHealthy(port: server.port)
        do {
            let script = "\(TestAssets.repositoryRoot)/tools/clients/quota_check.py"
            let run = try await ProgramRun.run(TestAssets.python, [script, "http://127.0.0.1:\(server.port)", Self.keyA, Self.keyB], timeout: .seconds(240))
            try #require(run.status == 0, "quota_check.py failed:\n\(run.errors)\n\(run.output)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "\(run.output)")
            func object(_ name: String) throws -> [String: Any] { try #require(report[name] as? [String: Any], "\(name): \(report)") }

            // Sessions: the key's second one is refused, typed, with a hint, then ended.
            #expect(report["a_first"] as? String == "session_start")
            let second = try #require(report["a_second"] as? [[String: Any]])
            #expect(second.first?["code"] as? String == "RATE_LIMITED", "\(second)")
            #expect((second.first?["message"] as? String)?.contains("quotas.sessions") == true)
            #expect((second.first?["retry_after_ms"] as? Int ?? 0) > 0)
            #expect(second.last?["type"] as? String == "session_end")
            #expect(second.last?["reason"] as? String == "rate_limited")
            #expect(report["b_first"] as? String == "session_start")

            // Messages: the burst (5) is handled, then one notice; the drops after it are silent.
            let before = try #require(report["flood_before_notice"] as? [String])
            #expect(before.filter { $0 == "INVALID_MESSAGE" }.count >= 4, "\(before)")  // `start` took one of the 5
            #expect(before.filter { $0 == "INVALID_MESSAGE" }.count < 30, "\(before)")
            let notice = try object("flood_notice")
            #expect((notice["retry_after_ms"] as? Int ?? 0) > 0)
            #expect((notice["message"] as? String)?.contains("quotas.messages_per_s") == true)
            let after = try #require(report["flood_after_notice"] as? [String])
            #expect(!after.contains("RATE_LIMITED"), "\(after)")  // one notice a second, not one a message

            // Reply audio: the first reply is spoken whole, the next refused before it speaks.
            let first = try object("reply_1")
            #expect(first["reason"] as? String == "completed")
            #expect((first["frames"] as? Int ?? 0) > 100, "\(first)")  // over 2 s
            let refused = try object("reply_2")
            #expect(refused["reason"] as? String == "error")
            #expect(refused["frames"] as? Int == 0)
            let errors = try #require(refused["errors"] as? [[String: Any]])
            #expect(errors.first?["code"] as? String == "RATE_LIMITED", "\(errors)")
            #expect((errors.first?["message"] as? String)?.contains("quotas.audio_out_s_per_min") == true)

            // The openai SDK: 429 with OpenAI's code and a Retry-After header; key B speaks.
            let speech = try object("speech_a")
            #expect(speech["status"] as? Int == 429)
            #expect(speech["code"] as? String == "rate_limit_exceeded")
            #expect(Int(speech["retry_after"] as? String ?? "") ?? 0 >= 1, "\(speech)")
            #expect((report["speech_b_bytes"] as? Int ?? 0) > 10_000)

            // The Realtime API: OpenAI's rate-limit error event.
            let realtime = try object("realtime_b")
            #expect(realtime["type"] as? String == "error")
            #expect(realtime["error_type"] as? String == "rate_limit_error")
            #expect(realtime["code"] as? String == "rate_limit_exceeded")
            #expect((realtime["message"] as? String)?.contains("quotas.sessions") == true)

            // Counted, by limit.
            let metrics = try object("metrics")
            #expect((metrics["sessions"] as? Double ?? 0) >= 2, "\(metrics)")  // the v1 and the Realtime refusal
            #expect((metrics["messages"] as? Double ?? 0) >= 20, "\(metrics)")  // every dropped message
            #expect((metrics["audio_out"] as? Double ?? 0) >= 2, "\(metrics)")  // the reply and the speech request
        }
    }
}
