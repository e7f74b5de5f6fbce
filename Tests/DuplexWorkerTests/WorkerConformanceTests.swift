import DuplexConformance
import DuplexTesting
import Testing

/// The worker conformance kit against the built-in adapters (in process), and against
/// deliberately broken workers: every check passes for the former; each defect fails the
/// check that guards against it, with a reason that names it.
@Suite struct WorkerConformanceTests {
    static var settings: WorkerConformance.Settings {
        var settings = WorkerConformance.Settings()
        // Beside the whole parallel suite, timing goals are figures, not verdicts
        // (`duplex conformance` enforces them on a worker process).
        settings.enforceTiming = false
        return settings
    }

    @Test(arguments: [("sine", "sine-440"), ("espeak", "espeak-en-us")])
    func everyBuiltInAdapterPassesTheKit(adapter: String, model: String) async throws {
        let config = InProcessWorker.configuration(adapters: [adapter], defaultModel: model)
        let report = try await InProcessWorker.with(config) { connection in
            await WorkerConformance(worker: connection, settings: Self.settings).run()
        }
        print("conformance of \(adapter):\n\(report.table)")
        #expect(report.passed, "\(report.table)")
        #expect(report.checks.count == 14)
    }

    @Test(arguments: FaultyWorker.Fault.allCases)
    func aBrokenWorkerFailsTheCheckThatGuardsAgainstItsDefect(fault: FaultyWorker.Fault) async throws {
        let config = InProcessWorker.configuration(adapters: ["sine"], defaultModel: "sine-440")
        let report = try await InProcessWorker.with(config, wrap: { FaultyWorker($0, fault: fault) }) { connection in
            await WorkerConformance(worker: connection, settings: Self.settings).run()
        }
        let (check, reason): (String, String) =
            switch fault {
            case .wrongFrameSize: ("framing", "1000 bytes")
            case .noFinalFrame: ("framing", "without a final frame")
            case .ignoresPause: ("pause-resume", "PAUSE did not hold")
            case .replaysOnResume: ("pause-resume", "audio lost or repeated")
            case .neverFreesCancelled: ("cancellation", "was not freed")
            case .stopsLate: ("stop", "emitted when STOP was answered")
            case .frameCountAsTimestamp: ("stop", "want epoch milliseconds")
            }
        #expect(!report.passed)
        guard case .failed(let why) = report.check(check)?.status else {
            Issue.record("\(fault): check \(check) did not fail:\n\(report.table)")
            return
        }
        #expect(why.contains(reason), "\(fault): \(why)")
        print("\(fault) → \(check): \(why)")
    }
}
