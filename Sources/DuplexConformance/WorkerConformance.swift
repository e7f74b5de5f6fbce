import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import GRPCCore

/// Checks a TTS worker — in any language — against the `duplex.tts.v1` ABI contract
/// (docs/ABI.md, docs/WORKERS.md): capabilities and models, session lifecycle and its
/// errors, frame format and sequence, segment announcements, real-time pacing,
/// PAUSE/RESUME/STOP, addressed control, replacement, model loading, cancellation and
/// concurrent sessions.
///
/// ```swift
/// let report = await WorkerConformance(worker: connection).run()
/// print(report.table)          // one line per check, with the reason of each failure
/// exit(report.passed ? 0 : 1)
/// ```
///
/// `duplex conformance grpc://host:port` runs it against a worker process; the Swift adapters
/// run it in-process in their test suites.
public struct WorkerConformance: Sendable {
    /// What to test with, and how strict to be about time.
    public struct Settings: Sendable {
        /// The model to test; nil uses the worker's default.
        public var model: String?
        /// A short reply (a few seconds of speech, several clauses).
        public var text = "Hello there. This is a conformance check of a Duplex worker, with two clauses."
        /// A long reply, for PAUSE and STOP in the middle.
        public var longText = "The first sentence of a longer reply is spoken now. The second one follows it, so that there is time to pause and to stop."
        /// Whether timing goals fail checks (PAUSE within `pauseDeadline`, real-time pacing), or
        /// are only reported as figures (for runs beside a loaded test suite).
        public var enforceTiming = true
        /// PAUSE must take effect within this.
        public var pauseDeadline: Duration = .milliseconds(50)
        /// How long to wait for the worker to report ready.
        public var readyTimeout: Duration = .seconds(90)
        /// Sessions synthesizing at once in the concurrency check.
        public var concurrentSessions = 3

        /// Defaults.
        public init() {}
    }

    let worker: WorkerConnection
    let settings: Settings
    let prefix: String

    /// Creates the checker for the worker behind `worker`.
    public init(worker: WorkerConnection, settings: Settings = Settings()) {
        self.worker = worker
        self.settings = settings
        self.prefix = "conformance-" + UUID().uuidString.prefix(8).lowercased()
    }

    /// Runs every check in order; a check that cannot run because an earlier one failed is
    /// skipped with the reason.
    public func run() async -> ConformanceReport {
        var report = ConformanceReport()
        var context = Context()
        report.checks.append(await capabilities(&context))
        guard context.ready else { return skipRest(report, "the worker never reported ready") }
        report.checks.append(await models(&context))
        report.checks.append(await sessions(&context))
        guard context.model != nil else { return skipRest(report, "no session could be opened") }
        report.checks.append(await sessionLimit(context))
        report.checks.append(contentsOf: await framing(&context))
        report.checks.append(await pauseResume(&context))
        report.checks.append(await stop(&context))
        report.checks.append(await replacement(context))
        report.checks.append(await addressedControl(context))
        report.checks.append(await loadUnload(context))
        report.checks.append(await cancellation(&context))
        report.checks.append(await concurrency(context))
        report.figures = context.figures
        if case .success(let caps) = await worker.capabilities() {
            for key in ["rtf_p50", "first_audio_p50_ms"] where caps.metrics[key] != nil {
                report.figures.append(("worker \(key)", String(format: "%.3f", caps.metrics[key] ?? 0)))
            }
        }
        return report
    }

    private static let order = [
        "capabilities", "models", "sessions", "session-limit", "framing", "announcements", "pacing", "pause-resume", "stop",
        "replacement", "addressed-control", "load-unload", "cancellation", "concurrency",
    ]

    private func skipRest(_ report: ConformanceReport, _ reason: String) -> ConformanceReport {
        var report = report
        for name in Self.order where report.check(name) == nil {
            report.checks.append(ConformanceCheck(name: name, summary: "", status: .skipped(reason)))
        }
        return report
    }

    /// What the checks learn as they go.
    struct Context: Sendable {
        var ready = false
        var abi11 = false
        /// ABI 1.2 or later: `ControlResponse.timestamp_ms` is field 3, `frames_emitted` field 4.
        var abi12 = false
        var maxSessions = 0
        var metricKeys: Set<String> = []
        var listed: [Duplex_Tts_V1_ModelInfo] = []
        var model: String?
        var deterministic = false
        var figures: [(name: String, value: String)] = []
        var sessions = 0
    }

    func sessionID(_ context: inout Context) -> String {
        context.sessions += 1
        return "\(prefix)-\(context.sessions)"
    }

    func fresh(_ context: Context, _ tag: String) -> String { "\(prefix)-\(tag)" }

    /// The frames a synthesis had emitted when a command took effect: field 4 from ABI 1.2,
    /// field 3 (which a 1.2 client reads as `timestamp_ms`) from earlier workers.
    static func framesEmitted(_ response: Duplex_Tts_V1_ControlResponse, _ context: Context) -> UInt64 {
        context.abi12 ? response.framesEmitted : UInt64(clamping: response.timestampMs)
    }

    /// A problem with `timestamp_ms` (ABI 1.2: epoch ms when the command took effect), if any:
    /// it must be within 5 minutes of this machine's clock (so a remote worker's clock may be
    /// a little off, but a frame count or seconds fail).
    static func timestampProblem(_ command: String, _ response: Duplex_Tts_V1_ControlResponse, _ context: Context) -> String? {
        guard context.abi12 else { return nil }
        let now = Duplex_Tts_V1_ControlResponse.nowMilliseconds
        guard abs(response.timestampMs - now) <= 300_000 else {
            return "\(command) answered timestamp_ms \(response.timestampMs), want epoch milliseconds near \(now)"
        }
        return nil
    }

    /// "1.2" → (1, 2); nil for an empty or malformed version.
    static func abiVersion(_ text: String) -> (major: Int, minor: Int)? {
        let parts = text.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return nil }
        return (parts[0], parts[1])
    }

    static func milliseconds(_ duration: Duration) -> String {
        String(format: "%.1f ms", duration.millisecondsDouble)
    }
}
